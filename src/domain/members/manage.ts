import { wakeForLabels } from '../automations/enter.ts';
import { sql, type Kysely } from 'kysely';
import type { Database, MemberStatus } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { emailProblem, normaliseEmail } from './email.ts';
import { checkLanguage } from './language.ts';
import { recordEvent } from './events.ts';
import { checkFieldValues, formatFieldValue, listFields, writeMemberFields } from './fields.ts';
import { memberWhere, type MemberFilter } from './list.ts';
import { emitMembersDeleted } from '../webhooks/events.ts';
import { deleteMember } from './preferences.ts';
import { newReferralCode } from './subscribe.ts';
import { isSuppressed } from './suppression.ts';

/**
 * What staff do to members by hand (admin UI and API): add one, edit one, and bulk actions on
 * a filter. A staff-added member is active at once (staff vouch for the consent, as in Ghost's
 * admin); a suppressed address is refused.
 */
export interface MemberInput {
  email: string;
  name?: string | null | undefined;
  newsletters?: string[] | undefined;
  labels?: string[] | undefined;
  status?: 'active' | 'pending' | undefined;
  tier?: string | undefined;
  notes?: string | undefined;
  /** Custom field values by key (fields.ts); each checked against its field's type. */
  fields?: Record<string, unknown> | undefined;
  /** ISO 639-1 among the site's languages; null: the site's (language.ts). */
  language?: string | null | undefined;
}

export interface MemberPatch {
  email?: string | undefined;
  name?: string | null | undefined;
  newsletters?: string[] | undefined;
  labels?: string[] | undefined;
  /** Staff may unsubscribe a member, or re-activate one who had left (not a bounced one). */
  status?: 'active' | 'unsubscribed' | undefined;
  /** Staff putting a member on a tier is complimentary access (free: back to the default). */
  tier?: string | undefined;
  /** With tier: when complimentary access ends (null or absent: no end). */
  compUntil?: Date | null | undefined;
  notes?: string | undefined;
  /** Custom field values by key; a key left out keeps its value, null clears it. */
  fields?: Record<string, unknown> | undefined;
  /** ISO 639-1 among the site's languages; null: the site's. */
  language?: string | null | undefined;
}

function cleanLabels(labels: string[]): string[] {
  const seen = new Map<string, string>();
  for (const raw of labels) {
    const l = raw.replace(/[\u0000-\u001f\u007f]/g, '').trim();
    if (l === '') continue;
    if (l.length > 100) throw new ValidationError('A label has at most 100 characters.', 'invalid_label');
    if (!seen.has(l.toLowerCase())) seen.set(l.toLowerCase(), l);
  }
  if (seen.size > 50) throw new ValidationError('A member has at most 50 labels.', 'invalid_label');
  return [...seen.values()];
}

async function labelIds(db: Kysely<Database>, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  await db
    .insertInto('labels')
    .values(names.map((name) => ({ name })))
    .onConflict((oc) => oc.expression(sql`lower(name)`).doNothing())
    .execute();
  const rows = await db
    .selectFrom('labels')
    .select('id')
    .where(
      sql`lower(name)`,
      'in',
      names.map((n) => n.toLowerCase()),
    )
    .execute();
  return rows.map((r) => r.id);
}

async function newsletterIds(db: Kysely<Database>, slugs: string[]): Promise<string[]> {
  const wanted = [...new Set(slugs)];
  if (wanted.length === 0) return [];
  const rows = await db.selectFrom('newsletters').select(['id', 'slug']).where('slug', 'in', wanted).execute();
  const missing = wanted.find((s) => !rows.some((r) => r.slug === s));
  if (missing) throw new ValidationError(`There is no newsletter called "${missing.slice(0, 60)}".`, 'unknown_newsletter');
  return rows.map((r) => r.id);
}

async function tierId(db: Kysely<Database>, slug: string): Promise<string> {
  const row = await db.selectFrom('tiers').select('id').where('slug', '=', slug).executeTakeFirst();
  if (!row) throw new ValidationError(`There is no tier called "${slug.slice(0, 60)}".`, 'unknown_tier');
  return row.id;
}

async function setLabels(db: Kysely<Database>, memberId: string, names: string[]): Promise<void> {
  const ids = await labelIds(db, names);
  await db
    .deleteFrom('member_labels')
    .where('member_id', '=', memberId)
    .$if(ids.length > 0, (q) => q.where('label_id', 'not in', ids))
    .execute();
  if (ids.length > 0) {
    // A label the member did not have enters its label_added automations (migration 0060's trigger).
    const added = await db
      .insertInto('member_labels')
      .values(ids.map((label_id) => ({ member_id: memberId, label_id })))
      .onConflict((oc) => oc.doNothing())
      .returning('label_id')
      .execute();
    if (added.length > 0) await wakeForLabels(db);
  }
}

async function setNewsletters(db: Kysely<Database>, memberId: string, ids: string[]): Promise<void> {
  await db
    .deleteFrom('member_newsletters')
    .where('member_id', '=', memberId)
    .$if(ids.length > 0, (q) => q.where('newsletter_id', 'not in', ids))
    .execute();
  if (ids.length > 0) {
    await db
      .insertInto('member_newsletters')
      .values(ids.map((newsletter_id) => ({ member_id: memberId, newsletter_id })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
}

export async function createMember(db: Kysely<Database>, input: MemberInput): Promise<string> {
  const problem = emailProblem(input.email);
  if (problem) throw new ValidationError(`The email address is not valid: ${problem}.`, 'invalid_email');
  const email = normaliseEmail(input.email);
  const labels = cleanLabels(input.labels ?? []);
  const language = checkLanguage(input.language);
  const fieldValues = input.fields ? checkFieldValues(await listFields(db), input.fields) : undefined;
  return db.transaction().execute(async (trx) => {
    if (await isSuppressed(trx, email))
      throw new ConflictError('This address bounced or complained before; it cannot be added.', 'suppressed');
    const nl =
      input.newsletters === undefined
        ? (await trx.selectFrom('newsletters').select('id').where('is_default', '=', true).execute()).map((r) => r.id)
        : await newsletterIds(trx, input.newsletters);
    const status: MemberStatus = input.status ?? 'active';
    const row = await trx
      .insertInto('members')
      .values({
        email,
        name: input.name?.trim().slice(0, 200) || null,
        status,
        tier_id: await tierId(trx, input.tier ?? 'free'),
        source_platform: 'direct',
        referral_code: newReferralCode(),
        notes: input.notes?.slice(0, 5000) ?? '',
        confirmed_at: status === 'active' ? new Date() : null,
        language,
        ...(fieldValues ? { fields: JSON.stringify(fieldValues.set) } : {}),
      })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new ConflictError('A member with this email address already exists.', 'email_taken');
    await setNewsletters(trx, row.id, nl);
    await setLabels(trx, row.id, labels);
    await recordEvent(trx, row.id, 'subscribed', { by: 'staff' });
    return row.id;
  });
}

export async function updateMember(db: Kysely<Database>, memberId: string, patch: MemberPatch): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').selectAll().where('id', '=', memberId).forUpdate().executeTakeFirst();
    if (!member) throw new NotFoundError('No such member.', 'member_not_found');
    const set: Record<string, unknown> = {};
    if (patch.email !== undefined && normaliseEmail(patch.email) !== member.email) {
      const problem = emailProblem(patch.email);
      if (problem) throw new ValidationError(`The email address is not valid: ${problem}.`, 'invalid_email');
      const taken = await trx
        .selectFrom('members')
        .select('id')
        .where(sql`lower(email)`, '=', normaliseEmail(patch.email))
        .executeTakeFirst();
      if (taken) throw new ConflictError('Another member has this email address.', 'email_taken');
      set.email = normaliseEmail(patch.email);
    }
    if (patch.name !== undefined) set.name = patch.name?.trim().slice(0, 200) || null;
    if (patch.notes !== undefined) set.notes = patch.notes.slice(0, 5000);
    if (patch.language !== undefined) set.language = checkLanguage(patch.language);
    if (patch.compUntil && (Number.isNaN(patch.compUntil.getTime()) || patch.compUntil.getTime() <= Date.now())) {
      throw new ValidationError('The end of complimentary access must be a future date.', 'invalid_date');
    }
    if (patch.tier !== undefined) {
      const id = await tierId(trx, patch.tier);
      const isFree = patch.tier === 'free';
      if (id !== member.tier_id || patch.compUntil !== undefined) {
        set.tier_id = id;
        set.tier_source = isFree ? 'default' : 'comp';
        set.comp_until = isFree ? null : (patch.compUntil ?? null);
        await recordEvent(trx, memberId, 'status_changed', {
          by: 'staff',
          tier: patch.tier,
          comp_until: isFree ? null : (patch.compUntil?.toISOString() ?? null),
        });
      }
    }
    if (patch.status !== undefined && patch.status !== member.status) {
      if (member.status === 'bounced' || member.status === 'complained') {
        throw new ConflictError(`This address ${member.status}; it stays suppressed.`, 'suppressed');
      }
      set.status = patch.status;
      if (patch.status === 'unsubscribed') set.unsubscribed_at = new Date();
      if (patch.status === 'active') {
        set.unsubscribed_at = null;
        set.confirmed_at = member.confirmed_at ?? new Date();
      }
      await recordEvent(trx, memberId, patch.status === 'unsubscribed' ? 'unsubscribed' : 'status_changed', {
        by: 'staff',
        to: patch.status,
      });
    }
    if (Object.keys(set).length > 0)
      await trx
        .updateTable('members')
        .set({ ...set, updated_at: new Date() })
        .where('id', '=', memberId)
        .execute();
    if (patch.newsletters !== undefined) await setNewsletters(trx, memberId, await newsletterIds(trx, patch.newsletters));
    if (patch.labels !== undefined) {
      await setLabels(trx, memberId, cleanLabels(patch.labels));
      await recordEvent(trx, memberId, 'labels_changed', { labels: cleanLabels(patch.labels) });
    }
    if (patch.fields !== undefined) await changeMemberFields(trx, memberId, patch.fields, { by: 'staff' });
  });
}

/**
 * Checks and writes custom field values on one member, in the caller's transaction, with a
 * fields_changed event (and so a member.updated webhook) when something changed. `editableOnly`:
 * the member's own account, where only member-editable fields may change.
 */
export async function changeMemberFields(
  db: Kysely<Database>,
  memberId: string,
  values: Record<string, unknown>,
  options: { by: 'staff' | 'member'; editableOnly?: boolean },
): Promise<void> {
  const changes = checkFieldValues(await listFields(db), values, { editableOnly: options.editableOnly ?? false });
  if (await writeMemberFields(db, memberId, changes))
    await recordEvent(db, memberId, 'fields_changed', { by: options.by, keys: [...Object.keys(changes.set), ...changes.unset] });
}

export type BulkAction =
  { kind: 'add_label'; label: string } | { kind: 'remove_label'; label: string } | { kind: 'unsubscribe' } | { kind: 'delete' };

/**
 * One set-based statement per action over everything a filter matches (no loop over members).
 * `expected` is the count staff confirmed; if the filter now matches a different number, the
 * action is refused so nobody deletes more than they saw.
 */
export async function bulkAction(db: Kysely<Database>, filter: MemberFilter, action: BulkAction, expected: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const matched = await trx
      .selectFrom('members as m')
      .where(memberWhere(filter))
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    if (Number(matched.n) !== expected) {
      throw new ConflictError(
        `The filter now matches ${matched.n} members, not ${expected}. Check the list and confirm again.`,
        'count_changed',
      );
    }
    const ids = trx.selectFrom('members as m').where(memberWhere(filter)).select('m.id');
    switch (action.kind) {
      case 'add_label': {
        const [labelId] = await labelIds(trx, cleanLabels([action.label]));
        if (!labelId) throw new ValidationError('Name the label.', 'invalid_label');
        const r = await sql<{
          member_id: string;
        }>`insert into member_labels (member_id, label_id) select id, ${labelId} from (${ids}) s on conflict do nothing returning member_id`.execute(
          trx,
        );
        if (r.rows.length > 0) await wakeForLabels(trx);
        return r.rows.length;
      }
      case 'remove_label': {
        const r = await trx
          .deleteFrom('member_labels')
          .where('member_id', 'in', ids)
          .where(
            'label_id',
            'in',
            trx
              .selectFrom('labels')
              .select('id')
              .where(sql`lower(name)`, '=', action.label.toLowerCase()),
          )
          .executeTakeFirst();
        return Number(r.numDeletedRows);
      }
      case 'unsubscribe': {
        await sql`insert into events (member_id, type, data) select id, 'unsubscribed', '{"by":"staff","bulk":true}' from (${ids}) s where id in (select id from members where status in ('active', 'pending'))`.execute(
          trx,
        );
        await trx.deleteFrom('member_newsletters').where('member_id', 'in', ids).execute();
        const r = await trx
          .updateTable('members')
          .set({ status: 'unsubscribed', unsubscribed_at: new Date(), updated_at: new Date() })
          .where('id', 'in', ids)
          .where('status', 'in', ['active', 'pending'])
          .executeTakeFirst();
        return Number(r.numUpdatedRows);
      }
      case 'delete': {
        await sql`insert into suppressions (email_hash, reason) select encode(sha256(convert_to(lower(email), 'UTF8')), 'hex'), status from members where id in (${ids}) and status in ('bounced', 'complained') on conflict do nothing`.execute(
          trx,
        );
        await emitMembersDeleted(trx, ids);
        await trx.updateTable('events').set({ member_id: null }).where('member_id', 'in', ids).execute();
        // Sends keep a snapshot of the address; erase it (probing each send's primary key).
        await sql`update deliveries set email = '', name = null where send_id in (select id from sends) and member_id in (${ids})`.execute(
          trx,
        );
        const r = await trx.deleteFrom('members').where('id', 'in', ids).executeTakeFirst();
        return Number(r.numDeletedRows);
      }
    }
  });
}

export { deleteMember };

/** Members of a filter as CSV lines (header first), read in pages of 5,000 by keyset: never all in memory. */
export async function* membersCsv(db: Kysely<Database>, filter: MemberFilter): AsyncGenerator<string> {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
    // Quote, and defuse spreadsheet formulas (=, +, -, @ at the start of a cell).
    // A leading apostrophe is escaped the same way, so an import can undo the defusing exactly.
    const safe = /^[=+\-@\t\r']/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  // The columns from notes on (and labels quoted when they hold a comma) let `import` read this file
  // back into an identical member (the `hearth` import format). Then one column per custom field,
  // named by its key (an import maps a column with a field's key back to it).
  const customFields = await listFields(db);
  yield `id,email,name,status,tier,newsletters,labels,platform,utm_source,utm_medium,utm_campaign,referrer,ref,referral_code,created_at,confirmed_at,notes,access,access_until,stripe_customer_id,unsubscribed_at,language${customFields.map((f) => `,${f.key}`).join('')}\n`;
  let after: { created: string; id: string } | undefined;
  for (;;) {
    const rows = await db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .where(memberWhere(filter))
      .$if(after !== undefined, (q) => q.where(sql<boolean>`(m.created_at, m.id) < (${after!.created}::timestamptz, ${after!.id}::bigint)`))
      .select([
        'm.id',
        'm.email',
        'm.name',
        'm.status',
        't.slug as tier',
        'm.source_platform',
        'm.utm_source',
        'm.utm_medium',
        'm.utm_campaign',
        'm.referrer',
        'm.ref',
        'm.referral_code',
        'm.created_at',
        'm.confirmed_at',
        'm.notes',
        'm.tier_source',
        'm.comp_until',
        'm.stripe_customer_id',
        'm.unsubscribed_at',
        'm.language',
        'm.fields',
        sql<string>`to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('created_key'),
        sql<string>`(select string_agg(n.slug, ' ' order by n.sort_order) from member_newsletters mn join newsletters n on n.id = mn.newsletter_id where mn.member_id = m.id)`.as(
          'newsletters',
        ),
        // A label holding a comma or a quote is quoted ("a, b"), as Mailchimp writes tags, so the list splits back the same.
        sql<string>`(select string_agg(case when l.name ~ '[,"]' then '"' || replace(l.name, '"', '""') || '"' else l.name end, ', ' order by l.name) from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id)`.as(
          'labels',
        ),
      ])
      .orderBy('m.created_at', 'desc')
      .orderBy('m.id', 'desc')
      .limit(5000)
      .execute();
    if (rows.length === 0) return;
    let chunk = '';
    for (const r of rows) {
      chunk +=
        [
          r.id,
          r.email,
          r.name,
          r.status,
          r.tier,
          r.newsletters,
          r.labels,
          r.source_platform,
          r.utm_source,
          r.utm_medium,
          r.utm_campaign,
          r.referrer,
          r.ref,
          r.referral_code,
          r.created_at,
          r.confirmed_at,
          r.notes,
          r.tier_source === 'stripe' ? 'paid' : r.tier_source === 'comp' ? 'comp' : '',
          r.tier_source === 'comp' ? r.comp_until : null,
          r.stripe_customer_id,
          r.unsubscribed_at,
          r.language,
          ...customFields.map((f) => formatFieldValue(r.fields[f.key])),
        ]
          .map(cell)
          .join(',') + '\n';
    }
    yield chunk;
    const last = rows.at(-1)!;
    after = { created: last.created_key, id: last.id };
    if (rows.length < 5000) return;
  }
}
