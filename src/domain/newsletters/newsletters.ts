import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, NewslettersTable } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { dbNow } from '../../lib/sql.ts';
import { emailProblem } from '../members/email.ts';

/**
 * Newsletters as staff manage them: create, rename, describe, reorder, mark default, archive.
 * See README.md for the rules; the web layer and the CLI call these and nothing else.
 */
export type Newsletter = Pick<
  Selectable<NewslettersTable>,
  'id' | 'slug' | 'name' | 'description' | 'is_default' | 'sort_order' | 'sender_name' | 'sender_email' | 'reply_to' | 'archived_at'
>;

const COLUMNS = [
  'id',
  'slug',
  'name',
  'description',
  'is_default',
  'sort_order',
  'sender_name',
  'sender_email',
  'reply_to',
  'archived_at',
] as const;

/** The slug rule, the same as the table's check constraint. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface NewsletterInput {
  slug: string;
  name: string;
  description?: string | undefined;
  default?: boolean | undefined;
  /** null or '' clears (the site's sender is used). */
  senderName?: string | null | undefined;
  senderEmail?: string | null | undefined;
  replyTo?: string | null | undefined;
}

export type NewsletterChanges = Partial<NewsletterInput> & {
  /** Position in lists and forms; lower first. */
  sortOrder?: number | undefined;
};

export async function listNewsletters(db: Kysely<Database>, options: { archived?: boolean } = {}): Promise<Newsletter[]> {
  return db
    .selectFrom('newsletters')
    .select(COLUMNS)
    .$if(!options.archived, (q) => q.where('archived_at', 'is', null))
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
}

/** Whether readers can subscribe to anything: at least one newsletter that is not archived. */
export async function isOpenForSubscriptions(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('newsletters').select('id').where('archived_at', 'is', null).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function findNewsletter(db: Kysely<Database>, slug: string): Promise<Newsletter> {
  // A slug that breaks the rule names nothing (and a NUL byte must never reach PostgreSQL).
  const row = SLUG_PATTERN.test(slug)
    ? await db.selectFrom('newsletters').select(COLUMNS).where('slug', '=', slug).executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError(`There is no newsletter called "${slug.slice(0, 60)}".`, 'unknown_newsletter');
  return row;
}

export function slugProblem(slug: string): string | null {
  if (slug === '') return 'the slug is empty';
  if (slug.length > 63) return 'the slug is longer than 63 characters';
  if (!SLUG_PATTERN.test(slug)) return 'use lower-case letters, digits and hyphens, starting with a letter or a digit (e.g. weekly-letter)';
  return null;
}

/** Letters for a name or a sender name: no control characters (they would end up in a header). */
function cleanText(value: string, what: string, max: number, { allowEmpty = false } = {}): string {
  // eslint-disable-next-line no-control-regex
  const v = value.replace(/[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').trim();
  if (!allowEmpty && v === '') throw new ValidationError(`${what} cannot be empty.`, 'invalid_newsletter');
  if (v.length > max) throw new ValidationError(`${what} is longer than ${max} characters.`, 'invalid_newsletter');
  return v;
}

function cleanAddress(value: string | null | undefined, what: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value.trim() === '') return null;
  const problem = emailProblem(value);
  if (problem) throw new ValidationError(`${what} is not valid: ${problem}.`, 'invalid_newsletter');
  return value.trim();
}

function checkSlug(slug: string): string {
  const problem = slugProblem(slug);
  if (problem) throw new ValidationError(`The slug "${slug.slice(0, 70)}" is not valid: ${problem}.`, 'invalid_slug');
  return slug;
}

/** The columns a create or a change writes, checked. */
function columnsOf(input: NewsletterChanges) {
  const senderName =
    input.senderName === undefined ? undefined : cleanText(input.senderName ?? '', 'The sender name', 100, { allowEmpty: true });
  if (input.sortOrder !== undefined && (!Number.isInteger(input.sortOrder) || Math.abs(input.sortOrder) > 1_000_000)) {
    throw new ValidationError('The position must be a whole number.', 'invalid_newsletter');
  }
  return {
    ...(input.slug === undefined ? {} : { slug: checkSlug(input.slug) }),
    ...(input.name === undefined ? {} : { name: cleanText(input.name, 'The name', 100) }),
    ...(input.description === undefined ? {} : { description: cleanText(input.description, 'The description', 500, { allowEmpty: true }) }),
    ...(senderName === undefined ? {} : { sender_name: senderName === '' ? null : senderName }),
    ...(input.senderEmail === undefined ? {} : { sender_email: cleanAddress(input.senderEmail, 'The from address') ?? null }),
    ...(input.replyTo === undefined ? {} : { reply_to: cleanAddress(input.replyTo, 'The reply-to address') ?? null }),
    ...(input.sortOrder === undefined ? {} : { sort_order: input.sortOrder }),
  };
}

const isUniqueViolation = (err: unknown, constraint: string) =>
  (err as { code?: string; constraint?: string }).code === '23505' && (err as { constraint?: string }).constraint === constraint;

const duplicate = (slug: string) =>
  new ConflictError(`A newsletter called "${slug}" exists already; choose another slug.`, 'newsletter_exists');

/**
 * A new newsletter, last in the order. The first open newsletter of a site becomes its default
 * (the one a form without a choice subscribes to), so a fresh install works with one command.
 */
export async function createNewsletter(db: Kysely<Database>, input: NewsletterInput): Promise<Newsletter> {
  const values = columnsOf(input);
  if (input.slug === undefined || input.name === undefined)
    throw new ValidationError('A newsletter needs a slug and a name.', 'invalid_newsletter');
  try {
    return await db.transaction().execute(async (trx) => {
      // One writer at a time: the default and the order are read, then written.
      await sql`lock table newsletters in share row exclusive mode`.execute(trx);
      if (await trx.selectFrom('newsletters').select('id').where('slug', '=', input.slug).executeTakeFirst()) throw duplicate(input.slug);
      const state = await trx
        .selectFrom('newsletters')
        .select([sql<number>`coalesce(max(sort_order) + 1, 0)`.as('next'), sql<boolean>`bool_or(is_default)`.as('has_default')])
        .executeTakeFirstOrThrow();
      const makeDefault = input.default ?? !state.has_default;
      if (makeDefault)
        await trx.updateTable('newsletters').set({ is_default: false, updated_at: dbNow() }).where('is_default', '=', true).execute();
      return trx
        .insertInto('newsletters')
        .values({ sort_order: state.next, ...values, slug: input.slug, name: values.name!, is_default: makeDefault })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    });
  } catch (err) {
    if (isUniqueViolation(err, 'newsletters_slug_key')) throw duplicate(input.slug);
    throw err;
  }
}

/** Changes what is given; `default: true` moves the default here, `false` leaves the site without one. */
export async function updateNewsletter(db: Kysely<Database>, slug: string, changes: NewsletterChanges): Promise<Newsletter> {
  const values = columnsOf(changes);
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`lock table newsletters in share row exclusive mode`.execute(trx);
      const current = await findNewsletter(trx, slug);
      if (values.slug !== undefined && values.slug !== slug) {
        if (await trx.selectFrom('newsletters').select('id').where('slug', '=', values.slug).executeTakeFirst())
          throw duplicate(values.slug);
      }
      if (changes.default === true) {
        if (current.archived_at)
          throw new ConflictError('An archived newsletter cannot be the default; unarchive it first.', 'newsletter_archived');
        await trx
          .updateTable('newsletters')
          .set({ is_default: false, updated_at: dbNow() })
          .where('is_default', '=', true)
          .where('id', '<>', current.id)
          .execute();
      }
      return trx
        .updateTable('newsletters')
        .set({ ...values, ...(changes.default === undefined ? {} : { is_default: changes.default }), updated_at: dbNow() })
        .where('id', '=', current.id)
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    });
  } catch (err) {
    if (isUniqueViolation(err, 'newsletters_slug_key')) throw duplicate(changes.slug ?? slug);
    throw err;
  }
}

/**
 * Archives a newsletter: its members and sends stay, it takes no new subscribers and leaves the
 * reader forms. It stops being the default. Archiving twice changes nothing.
 */
export async function archiveNewsletter(db: Kysely<Database>, slug: string): Promise<Newsletter> {
  const current = await findNewsletter(db, slug);
  if (current.archived_at) return current;
  return db
    .updateTable('newsletters')
    .set({ archived_at: dbNow(), is_default: false, updated_at: dbNow() })
    .where('id', '=', current.id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function unarchiveNewsletter(db: Kysely<Database>, slug: string): Promise<Newsletter> {
  const current = await findNewsletter(db, slug);
  if (!current.archived_at) return current;
  return db
    .updateTable('newsletters')
    .set({ archived_at: null, updated_at: dbNow() })
    .where('id', '=', current.id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Moves a newsletter one place up or down among all of them (the order of forms and lists). */
export async function moveNewsletter(db: Kysely<Database>, slug: string, direction: 'up' | 'down'): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`lock table newsletters in share row exclusive mode`.execute(trx);
    const all = await listNewsletters(trx, { archived: true });
    const at = all.findIndex((n) => n.slug === slug);
    if (at < 0) throw new NotFoundError(`There is no newsletter called "${slug.slice(0, 60)}".`, 'unknown_newsletter');
    const to = direction === 'up' ? at - 1 : at + 1;
    if (to < 0 || to >= all.length) return;
    const order = [...all];
    [order[at], order[to]] = [order[to]!, order[at]!];
    // Renumber everything: earlier orders may hold ties (several at 0).
    for (const [i, n] of order.entries()) {
      if (n.sort_order !== i) await trx.updateTable('newsletters').set({ sort_order: i }).where('id', '=', n.id).execute();
    }
  });
}
