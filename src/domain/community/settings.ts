import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { CommentsMode, Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';

/**
 * The site's conversation settings (one row `conversation` in `settings`) and a post's own rule
 * (`posts.comments_mode`, null to follow the site).
 */
export const conversationSettingsSchema = z.object({
  /** Who may talk under a post that has no rule of its own. */
  defaultMode: z.enum(['off', 'members', 'paid']).default('members'),
  /** What anonymous readers of a post see: the conversation, or only how many comments it has. */
  anonymousView: z.enum(['conversation', 'count']).default('conversation'),
  /** Hold a member's first comment for review. */
  holdFirstComment: z.boolean().default(false),
  /** Minutes during which the author may edit a comment. */
  editWindowMinutes: z.number().int().min(0).max(1_440).default(15),
  /** A member is "new" (links held, counted in bursts) for this many days after joining. */
  newMemberDays: z.number().int().min(0).max(365).default(7),
});
export type ConversationSettings = z.infer<typeof conversationSettingsSchema>;

const KEY = 'conversation';

export async function getConversationSettings(db: Kysely<Database>): Promise<ConversationSettings> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst();
  return conversationSettingsFrom(row?.value);
}

/** The settings from a stored value (absent or unreadable: the defaults). */
export function conversationSettingsFrom(value: unknown): ConversationSettings {
  const parsed = conversationSettingsSchema.safeParse(value ?? {});
  return parsed.success ? parsed.data : conversationSettingsSchema.parse({});
}

const NAMES: Record<string, string> = {
  defaultMode: 'Who may talk',
  anonymousView: 'What anonymous readers see',
  holdFirstComment: 'Hold first comments',
  editWindowMinutes: 'The edit window',
  newMemberDays: 'The days a member counts as new',
};

export async function saveConversationSettings(
  db: Kysely<Database>,
  settings: Partial<ConversationSettings>,
): Promise<ConversationSettings> {
  const parsed = conversationSettingsSchema.safeParse({ ...(await getConversationSettings(db)), ...settings });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`${NAMES[String(issue.path[0])] ?? 'A setting'} is not valid: ${issue.message}.`, 'invalid_settings');
  }
  const value = JSON.stringify(parsed.data);
  await db
    .insertInto('settings')
    .values({ key: KEY, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: new Date() }))
    .execute();
  return parsed.data;
}

export function isCommentsMode(value: string): value is CommentsMode {
  return value === 'off' || value === 'members' || value === 'paid';
}

/** Sets a post's own rule; null returns it to the site's default. */
export async function setPostCommentsMode(db: Kysely<Database>, postId: string, mode: CommentsMode | null): Promise<void> {
  const r = await db.updateTable('posts').set({ comments_mode: mode }).where('id', '=', postId).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new NotFoundError('There is no such post.', 'post_not_found');
}

export async function getPostCommentsMode(db: Kysely<Database>, postId: string): Promise<CommentsMode | null> {
  const row = await db.selectFrom('posts').select('comments_mode').where('id', '=', postId).executeTakeFirst();
  if (!row) throw new NotFoundError('There is no such post.', 'post_not_found');
  return row.comments_mode;
}
