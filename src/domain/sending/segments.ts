import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isPlatform } from '../members/sources.ts';
import { fieldWhere, listFields, parseFieldValue, type FieldCondition } from '../members/fields.ts';
import { listNewsletters, listTiers } from '../site/catalog.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * A segment: who a send goes to. Newsletters are required (a send reaches members subscribed
 * to at least one of them); tiers, labels, platforms and engagement narrow it. Whatever the
 * segment, only active members are included: never a pending, unsubscribed, bounced or
 * complained member, never a suppressed address, never a member who already got this post.
 */
export const ENGAGEMENT = ['any', 'engaged', 'cold'] as const;
export type Engagement = (typeof ENGAGEMENT)[number];

export const ENGAGED_DAYS = 30;
export const COLD_DAYS = 90;

export interface SegmentInput {
  newsletters: string[];
  tiers?: string[] | undefined;
  labels?: string[] | undefined;
  platforms?: string[] | undefined;
  engagement?: string | undefined;
  /** Custom field conditions: `{"key","equals"}` or `{"key","set":true}`; all must hold. */
  fields?: FieldCondition[] | undefined;
}

/** A segment with its names resolved to ids, as stored on the send. */
export interface Segment {
  newsletters: Array<{ id: string; slug: string; name: string }>;
  tiers: Array<{ id: string; slug: string; name: string }>;
  labels: Array<{ id: string; name: string }>;
  platforms: string[];
  engagement: Engagement;
  /** Absent on sends stored before custom fields existed. */
  fields?: FieldCondition[] | undefined;
}

const MAX_ITEMS = 50;

function fieldConditions(raw: unknown): FieldCondition[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 10)
    throw new ValidationError('segment.fields is a list of at most 10 conditions.', 'invalid_segment');
  return raw.map((c: unknown) => {
    const r = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof r.key !== 'string' || !/^[a-z][a-z0-9_]{0,39}$/.test(r.key))
      throw new ValidationError('Each segment.fields condition names a field "key".', 'invalid_segment');
    if (r.set === true && r.equals === undefined) return { key: r.key, set: true as const };
    if (['string', 'number', 'boolean'].includes(typeof r.equals) && String(r.equals).length <= 200)
      return { key: r.key, equals: String(r.equals) };
    throw new ValidationError(`segment.fields: give "${r.key}" either "equals" (a value) or "set": true.`, 'invalid_segment');
  });
}

function list(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new ValidationError(`segment.${name} must be a list of names.`, 'invalid_segment');
  if (value.length > MAX_ITEMS) throw new ValidationError(`segment.${name} holds at most ${MAX_ITEMS} entries.`, 'invalid_segment');
  return [...new Set((value as string[]).map((v) => v.trim()).filter(Boolean))];
}

/** Checks a segment's shape (from a form or the API) before it meets the database. */
export function parseSegmentInput(raw: unknown): SegmentInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError('segment must be an object with "newsletters".', 'invalid_segment');
  const r = raw as Record<string, unknown>;
  const newsletters = list(r.newsletters, 'newsletters');
  if (newsletters.length === 0) throw new ValidationError('Choose at least one newsletter to send to.', 'invalid_segment');
  const platforms = list(r.platforms, 'platforms');
  const unknown = platforms.find((p) => !isPlatform(p));
  if (unknown) throw new ValidationError(`There is no platform called "${unknown}".`, 'invalid_segment');
  const engagement = r.engagement === undefined || r.engagement === null || r.engagement === '' ? 'any' : r.engagement;
  if (typeof engagement !== 'string' || !(ENGAGEMENT as readonly string[]).includes(engagement)) {
    throw new ValidationError(`segment.engagement must be one of ${ENGAGEMENT.join(', ')}.`, 'invalid_segment');
  }
  const fields = fieldConditions(r.fields);
  return {
    newsletters,
    tiers: list(r.tiers, 'tiers'),
    labels: list(r.labels, 'labels'),
    platforms,
    engagement,
    ...(fields.length ? { fields } : {}),
  };
}

/** Resolves slugs and names to rows; an unknown one is an error, never silently dropped. */
export async function resolveSegment(db: Kysely<Database>, input: SegmentInput): Promise<Segment> {
  const [newsletters, tiers, labels] = await Promise.all([
    db.selectFrom('newsletters').select(['id', 'slug', 'name']).where('slug', 'in', input.newsletters).orderBy('sort_order').execute(),
    input.tiers?.length
      ? db.selectFrom('tiers').select(['id', 'slug', 'name']).where('slug', 'in', input.tiers).orderBy('id').execute()
      : [],
    input.labels?.length
      ? db
          .selectFrom('labels')
          .select(['id', 'name'])
          .where(
            sql`lower(name)`,
            'in',
            input.labels.map((l) => l.toLowerCase()),
          )
          .orderBy('name')
          .execute()
      : [],
  ]);
  const missing = (wanted: string[] | undefined, found: string[], what: string) => {
    const lower = new Set(found.map((f) => f.toLowerCase()));
    const gone = (wanted ?? []).find((w) => !lower.has(w.toLowerCase()));
    if (gone !== undefined) throw new ValidationError(`There is no ${what} "${gone}".`, 'invalid_segment');
  };
  missing(
    input.newsletters,
    newsletters.map((n) => n.slug),
    'newsletter',
  );
  missing(
    input.tiers,
    tiers.map((t) => t.slug),
    'tier',
  );
  missing(
    input.labels,
    labels.map((l) => l.name),
    'label',
  );
  // A field condition names a defined field, and an equals value must be one the field can hold.
  let fields: FieldCondition[] | undefined;
  if (input.fields?.length) {
    const defined = await listFields(db);
    fields = input.fields.map((c) => {
      const field = defined.find((f) => f.key === c.key);
      if (!field) throw new ValidationError(`There is no field "${c.key}".`, 'invalid_segment');
      if ('set' in c) return c;
      const value = parseFieldValue(field, c.equals);
      if (value === null) throw new ValidationError(`segment.fields: give "${c.key}" a value to equal.`, 'invalid_segment');
      return { key: c.key, equals: String(value) };
    });
  }
  return {
    newsletters,
    tiers,
    labels,
    platforms: [...(input.platforms ?? [])].sort(),
    engagement: (input.engagement ?? 'any') as Engagement,
    ...(fields ? { fields } : {}),
  };
}

/** The segment back in the API's words (slugs and names). */
export function segmentView(segment: Segment) {
  return {
    newsletters: segment.newsletters.map((n) => n.slug),
    tiers: segment.tiers.map((t) => t.slug),
    labels: segment.labels.map((l) => l.name),
    platforms: segment.platforms,
    engagement: segment.engagement,
    ...(segment.fields?.length ? { fields: segment.fields } : {}),
  };
}

/** One line for staff: "Weekly · paid tier · from instagram". */
export function describeSegment(segment: Segment): string {
  const parts = [segment.newsletters.map((n) => n.name).join(' or ')];
  if (segment.tiers.length) parts.push(`tier ${segment.tiers.map((t) => t.name).join(' or ')}`);
  if (segment.labels.length) parts.push(`labelled ${segment.labels.map((l) => l.name).join(' or ')}`);
  if (segment.platforms.length) parts.push(`from ${segment.platforms.join(' or ')}`);
  if (segment.engagement === 'engaged') parts.push(`engaged in the last ${ENGAGED_DAYS} days`);
  if (segment.engagement === 'cold') parts.push(`no engagement in ${COLD_DAYS} days`);
  for (const f of segment.fields ?? []) parts.push('set' in f ? `${f.key} set` : `${f.key} = ${f.equals}`);
  return parts.join(' · ');
}

type MembersEb = ExpressionBuilder<Database & { m: Database['members'] }, 'm'>;

/**
 * The WHERE clause of a segment over `members as m`. Every part is a semi- or anti-join on an
 * index, and the newsletter ids are literals, so the planner hashes member_newsletters once
 * instead of probing per member. `excludeSends` are earlier sends of the same post.
 */
export function recipientWhere(segment: Segment, excludeSends: string[]) {
  return (eb: MembersEb): Expression<SqlBool> => {
    const parts: Expression<SqlBool>[] = [eb('m.status', '=', 'active')];
    parts.push(
      eb(
        'm.id',
        'in',
        eb
          .selectFrom('member_newsletters as mn')
          .select('mn.member_id')
          .where(
            'mn.newsletter_id',
            'in',
            segment.newsletters.map((n) => n.id),
          ),
      ),
    );
    if (segment.tiers.length)
      parts.push(
        eb(
          'm.tier_id',
          'in',
          segment.tiers.map((t) => t.id),
        ),
      );
    if (segment.labels.length) {
      parts.push(
        eb(
          'm.id',
          'in',
          eb
            .selectFrom('member_labels as ml')
            .select('ml.member_id')
            .where(
              'ml.label_id',
              'in',
              segment.labels.map((l) => l.id),
            ),
        ),
      );
    }
    if (segment.platforms.length) parts.push(eb('m.source_platform', 'in', segment.platforms));
    if (segment.fields?.length) parts.push(fieldWhere(segment.fields)(eb));
    if (segment.engagement !== 'any') {
      // The stats rollup keeps each member's last human engagement (a click or read tracked
      // from email or the web, a comment, a reaction; machine events never count) in
      // stats_members: one primary-key probe per member instead of a scan of the raw events.
      // It runs every 10 minutes (domain/stats/rollup.ts), so a segment lags by at most that much.
      const days = segment.engagement === 'engaged' ? ENGAGED_DAYS : COLD_DAYS;
      const engaged = eb.exists(
        eb
          .selectFrom('stats_members as sm')
          .select(sql`1`.as('one'))
          .whereRef('sm.member_id', '=', 'm.id')
          .where('sm.last_engaged_at', '>', dbNow({ days: -days })),
      );
      if (segment.engagement === 'engaged') parts.push(engaged);
      else parts.push(eb.and([eb.not(engaged), eb('m.created_at', '<', dbNow({ days: -COLD_DAYS }))]));
    }
    // Suppressions are kept as SHA-256 of the normalised address (members/suppression.ts). Found
    // from the suppressions side through members_email_hash_idx (its keys are "C": 0096): hashing every member's address
    // instead took 700 ms of a 1.3 s count at a million members.
    parts.push(
      eb(
        'm.id',
        'not in',
        eb
          .selectFrom('suppressions as s')
          .innerJoin('members as sm', (join) => join.on(sql`email_hash(sm.email) collate "C"`, '=', sql.ref('s.email_hash')))
          .select('sm.id'),
      ),
    );
    if (excludeSends.length) {
      parts.push(
        eb.not(
          eb.exists(
            eb
              .selectFrom('deliveries as d')
              .select(sql`1`.as('one'))
              .where('d.send_id', 'in', excludeSends)
              .whereRef('d.member_id', '=', 'm.id')
              .where('d.status', '=', 'posted'),
          ),
        ),
      );
    }
    return eb.and(parts);
  };
}

/** Earlier sends of a post that reached (or may still reach) members. */
export async function earlierSendsOf(db: Kysely<Database>, postId: string, exceptSend?: string): Promise<string[]> {
  const rows = await db
    .selectFrom('sends')
    .select('id')
    .where('post_id', '=', postId)
    .where('status', 'in', ['sending', 'paused', 'sent', 'failed', 'cancelled'])
    .$if(exceptSend !== undefined, (q) => q.where('id', '<>', exceptSend!))
    .execute();
  return rows.map((r) => r.id);
}

/** How many members a send of this post to this segment would reach now. */
export async function countRecipients(db: Kysely<Database>, segment: Segment, postId: string, exceptSend?: string): Promise<number> {
  const exclude = await earlierSendsOf(db, postId, exceptSend);
  const row = await db
    .selectFrom('members as m')
    .select(sql<string>`count(*)`.as('n'))
    .where(recipientWhere(segment, exclude))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** What a segment can be made of, for the send form. */
export async function segmentChoices(db: Kysely<Database>) {
  const [newsletters, tiers, labels] = await Promise.all([
    listNewsletters(db, { archived: true }),
    listTiers(db),
    db.selectFrom('labels').select('name').orderBy('name').limit(200).execute(),
  ]);
  return { newsletters, tiers, labels: labels.map((l) => l.name) };
}
