import { randomUUID } from 'node:crypto';
import type { InboxContext } from '@fedify/fedify';
import {
  Accept,
  Announce,
  Article,
  Create,
  Delete,
  Follow,
  Like,
  Note,
  Undo,
  Update,
  isActor,
  type Actor,
  type Object as ApObject,
} from '@fedify/vocab';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { ValidationError } from '../../lib/errors.ts';
import { announce } from '../community/comments.ts';
import { BURST_RULE, detectBurst, fingerprint } from '../community/burst.ts';
import { validCommentBody } from '../community/markdown.ts';
import { getConversationSettings } from '../community/settings.ts';
import { effectiveMode } from '../community/rules.ts';
import { getSiteSettings } from '../site/settings.ts';
import { dbNow } from '../../lib/sql.ts';
import { isBannedActor } from './bans.ts';
import { contextLoader } from './context-loader.ts';
import { queueDeliveries } from './delivery.ts';
import type { FediverseContext } from './federation.ts';
import { isBlockedHost, removeFollower, saveFollower } from './followers.ts';
import { actorId, answerNote, SITE_ACTOR } from './objects.ts';
import { articleById } from './sync.ts';
import { htmlToText } from './text.ts';

/**
 * What arrives in the inboxes, after Fedify has verified its signature. A listener that returns
 * writes nothing for what it does not take (a blocked server, an object that is not ours); the
 * sender still gets 202 (ActivityPub has no "refused" answer a server acts on).
 */
type Ctx = InboxContext<FediverseContext>;

/** A remote server may send at most this many replies an hour. */
export const REPLIES_PER_SERVER_PER_HOUR = 60;
/** The largest remote note taken, in characters of HTML. */
export const MAX_REMOTE_CONTENT = 20_000;

/** No actor, a blocked server, or a banned account (bans.ts). */
async function refused(ctx: Ctx, actor: URL | null): Promise<boolean> {
  return actor === null || (await isBlockedHost(ctx.data.db, actor.host)) || (await isBannedActor(ctx.data.db, actor.href));
}

function ours(ctx: Ctx, url: URL | null, kind: 'posts' | 'notes' | 'replies'): string | null {
  if (!url || url.origin !== new URL(ctx.data.siteUrl).origin) return null;
  const m = new RegExp(`^/ap/${kind}/(\\d{1,18})$`).exec(url.pathname);
  return m ? m[1]! : null;
}

/**
 * `@user@server` from the actor document itself (Fedify's getActorHandle asks WebFinger with its
 * own fetch, around the SSRF guard; the server is the actor's host, which is what readers see).
 */
async function handleOf(_ctx: Ctx, actor: Actor): Promise<string> {
  return `@${actor.preferredUsername?.toString() ?? 'unknown'}@${actor.id?.host ?? 'unknown'}`;
}

export async function onFollow(ctx: Ctx, follow: Follow): Promise<void> {
  if (follow.objectId?.href !== actorId(ctx.data.siteUrl).href || (await refused(ctx, follow.actorId))) return;
  const actor = await follow.getActor(ctx);
  if (!actor || !isActor(actor) || !actor.id || !actor.inboxId) return;
  await saveFollower(ctx.data.db, {
    actorUri: actor.id.href,
    handle: await handleOf(ctx, actor),
    inbox: actor.inboxId.href,
    sharedInbox: actor.endpoints?.sharedInbox?.href ?? null,
  });
  const accept = new Accept({
    id: new URL(`${actorId(ctx.data.siteUrl).href}#accepts/${randomUUID()}`),
    actor: actorId(ctx.data.siteUrl),
    object: follow,
  });
  await queueDeliveries(ctx.data.db, accept.id!.href, (await accept.toJsonLd({ contextLoader })) as Record<string, unknown>, [
    actor.inboxId.href,
  ]);
}

export async function onUndo(ctx: Ctx, undo: Undo): Promise<void> {
  if (!undo.actorId) return;
  // Through the context: its document loader is the guarded one.
  const object = await undo.getObject(ctx).catch(() => null);
  if (object instanceof Follow || (object === null && undo.objectId)) {
    // The follow named by an Undo is the sender's own: only the sender can end it.
    if (object instanceof Follow && object.actorId?.href !== undo.actorId.href) return;
    await removeFollower(ctx.data.db, undo.actorId.href);
  }
}

export async function onAccept(ctx: Ctx, accept: Accept): Promise<void> {
  if (!accept.actorId) return;
  await ctx.data.db
    .updateTable('fediverse_following')
    .set({ accepted_at: dbNow() })
    .where('actor_uri', '=', accept.actorId.href)
    .where('accepted_at', 'is', null)
    .execute();
}

async function followed(db: Kysely<Database>, actor: string): Promise<boolean> {
  const row = await db.selectFrom('fediverse_following').select('id').where('actor_uri', '=', actor).executeTakeFirst();
  return row !== undefined;
}

async function objectOf(ctx: Ctx, activity: Create | Update): Promise<ApObject | null> {
  try {
    return await activity.getObject(ctx);
  } catch {
    return null;
  }
}

function textOf(object: ApObject): string {
  const content = object.content?.toString() ?? '';
  return content;
}

export async function onCreate(ctx: Ctx, create: Create): Promise<void> {
  if (await refused(ctx, create.actorId)) return;
  const object = await objectOf(ctx, create);
  if (!(object instanceof Note || object instanceof Article) || !object.id) return;
  // Only what the sender wrote itself.
  if (object.attributionId?.href !== create.actorId!.href) return;
  const target = object.replyTargetId;
  const postId = ours(ctx, target, 'posts');
  const commentId = ours(ctx, target, 'notes');
  if (postId || commentId) {
    await commentFromFediverse(ctx, create.actorId!, object, { postId, commentId });
    return;
  }
  if (ours(ctx, target, 'replies') || (await followed(ctx.data.db, create.actorId!.href))) await saveReceived(ctx, create.actorId!, object);
}

export async function onUpdate(ctx: Ctx, update: Update): Promise<void> {
  if (await refused(ctx, update.actorId)) return;
  const object = await objectOf(ctx, update);
  if (!(object instanceof Note || object instanceof Article) || !object.id) return;
  if (object.attributionId?.href !== update.actorId!.href) return;
  const db = ctx.data.db;
  const existing = await db.selectFrom('fediverse_received').select('id').where('object_id', '=', object.id.href).executeTakeFirst();
  if (existing) await saveReceived(ctx, update.actorId!, object);
  const content = textOf(object);
  if (content.length > MAX_REMOTE_CONTENT) return;
  let body: string;
  try {
    body = validCommentBody(htmlToText(content));
  } catch {
    return;
  }
  // An edited reply goes back to review when replies are held.
  const site = await getSiteSettings(db);
  await db
    .updateTable('comments')
    .set({
      body,
      fingerprint: fingerprint(body),
      edited_at: dbNow(),
      ...(site.fediverse.holdReplies ? { status: 'held' as const, hold_reason: 'fediverse' } : {}),
    })
    .where('remote_object_id', '=', object.id.href)
    .where('remote_actor', '=', update.actorId!.href)
    .where('status', 'in', ['published', 'held'])
    .execute();
}

export async function onDelete(ctx: Ctx, del: Delete): Promise<void> {
  if (!del.actorId || !del.objectId) return;
  const db = ctx.data.db;
  await db
    .updateTable('comments')
    .set({ status: 'deleted', body: '', erased: true })
    .where('remote_object_id', '=', del.objectId.href)
    .where('remote_actor', '=', del.actorId.href)
    .execute();
  await db.deleteFrom('fediverse_received').where('object_id', '=', del.objectId.href).where('actor_uri', '=', del.actorId.href).execute();
  if (del.objectId.href === del.actorId.href) await removeFollower(db, del.actorId.href);
}

/** A like or a boost of a post: an engagement event with source fediverse, never a member. */
export async function onReaction(ctx: Ctx, activity: Like | Announce): Promise<void> {
  if (await refused(ctx, activity.actorId)) return;
  const postId = ours(ctx, activity.objectId, 'posts');
  if (!postId) return;
  const post = await ctx.data.db.selectFrom('posts').select('id').where('id', '=', postId).executeTakeFirst();
  if (!post) return;
  await ctx.data.db
    .insertInto('events')
    .values({
      member_id: null,
      type: activity instanceof Like ? 'fediverse_like' : 'fediverse_boost',
      data: JSON.stringify({ post_id: postId, source: 'fediverse', server: activity.actorId!.host }),
    })
    .execute();
}

async function saveReceived(ctx: Ctx, actorUri: URL, object: Note | Article): Promise<void> {
  const content = textOf(object);
  if (content.length > MAX_REMOTE_CONTENT * 5) return;
  const actor = await object.getAttribution(ctx).catch(() => null);
  const handle = actor && isActor(actor) ? await handleOf(ctx, actor) : `@unknown@${actorUri.host}`;
  const url = object.url instanceof URL ? object.url.href : (object.url?.href?.href ?? null);
  const values = {
    object_id: object.id!.href,
    actor_uri: actorUri.href,
    handle,
    type: object instanceof Article ? 'Article' : 'Note',
    in_reply_to: object.replyTargetId?.href ?? null,
    name: object.name?.toString() ?? null,
    summary: object.summary?.toString() ?? null,
    // Kept as text: the admin shows it escaped, never as HTML.
    content: htmlToText(content),
    url,
  };
  await ctx.data.db
    .insertInto('fediverse_received')
    .values(values)
    .onConflict((oc) => oc.column('object_id').doUpdateSet({ ...values, updated_at: dbNow() }))
    .execute();
}

/**
 * A reply from the fediverse to a post (or to a staff answer) becomes a comment under the
 * brand's rules: refused on a post closed to comments or not public, size- and rate-limited per
 * server, held for review when the site holds fediverse replies or when it completes a burst of
 * near-identical comments; a redelivered note is the same comment.
 */
async function commentFromFediverse(
  ctx: Ctx,
  actorUri: URL,
  object: Note | Article,
  target: { postId: string | null; commentId: string | null },
) {
  const db = ctx.data.db;
  const content = textOf(object);
  if (content.length > MAX_REMOTE_CONTENT) return;
  let body: string;
  try {
    body = validCommentBody(htmlToText(content));
  } catch (err) {
    if (err instanceof ValidationError) return;
    throw err;
  }
  const limit = await hitRateLimit(db, `fediverse-replies:${actorUri.host}`, { limit: REPLIES_PER_SERVER_PER_HOUR, windowSeconds: 3600 });
  if (!limit.allowed) return;

  let postId = target.postId;
  let parentId: string | null = null;
  let replyToId: string | null = null;
  if (target.commentId) {
    const c = await db
      .selectFrom('comments')
      .select(['id', 'post_id', 'parent_id', 'status'])
      .where('id', '=', target.commentId)
      .executeTakeFirst();
    if (!c || c.status !== 'published') return;
    postId = c.post_id;
    parentId = c.parent_id ?? c.id;
    replyToId = c.id;
  }
  const post = await db
    .selectFrom('posts')
    .select(['id', 'visibility', 'comments_mode'])
    .where('id', '=', postId!)
    .where('status', 'in', ['published', 'scheduled'])
    .where('published_at', '<=', dbNow())
    .executeTakeFirst();
  if (!post || post.visibility !== 'public') return;
  const [conversation, site] = await Promise.all([getConversationSettings(db), getSiteSettings(db)]);
  const mode = effectiveMode(post.comments_mode, conversation.defaultMode);
  if (mode === 'off' || mode === 'paid') return;

  const actor = await object.getAttribution(ctx).catch(() => null);
  const handle = actor && isActor(actor) ? await handleOf(ctx, actor) : `@unknown@${actorUri.host}`;
  const print = fingerprint(body);
  await db.transaction().execute(async (trx) => {
    const recent = await trx
      .selectFrom('comments')
      .select(['id', 'remote_actor', 'fingerprint'])
      .where('created_at', '>', dbNow({ minutes: -BURST_RULE.windowMinutes }))
      .where('status', 'in', ['published', 'held'])
      .where('remote_actor', 'is not', null)
      .orderBy('created_at', 'desc')
      .limit(500)
      .execute();
    // Fediverse accounts count as new accounts: nothing here tells how long they have been around.
    const burst = detectBurst(
      { memberId: actorUri.href, fingerprint: print, newAccount: true },
      recent.map((r) => ({ id: r.id, memberId: r.remote_actor!, fingerprint: r.fingerprint, newAccount: true })),
    );
    const hold = burst.burst ? 'burst' : site.fediverse.holdReplies ? 'fediverse' : null;
    const row = await trx
      .insertInto('comments')
      .values({
        post_id: post.id,
        parent_id: parentId,
        reply_to_id: replyToId,
        body,
        status: hold ? 'held' : 'published',
        hold_reason: hold,
        fingerprint: print,
        remote_actor: actorUri.href,
        remote_handle: handle,
        remote_object_id: object.id!.href,
      })
      .onConflict((oc) => oc.column('remote_object_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return;
    if (burst.burst) {
      await trx
        .updateTable('comments')
        .set({ status: 'held', hold_reason: 'burst' })
        .where('id', 'in', burst.matches)
        .where('status', '=', 'published')
        .execute();
    }
    if (!hold) await announce(trx, row.id);
  });
}

/** The Note of a staff answer, as fetched by its id. */
export async function noteForFetch(db: Kysely<Database>, siteUrl: string, commentId: string) {
  if (!/^\d{1,18}$/.test(commentId)) return null;
  const row = await db
    .selectFrom('comments as c')
    .innerJoin('comments as r', 'r.id', 'c.reply_to_id')
    .innerJoin('posts as p', 'p.id', 'c.post_id')
    .select(['c.id', 'c.body', 'c.created_at', 'r.remote_object_id', 'r.remote_actor', 'p.slug', 'p.visibility'])
    .where('c.id', '=', commentId)
    .where('c.status', '=', 'published')
    .where('c.staff_user_id', 'is not', null)
    .where('r.remote_object_id', 'is not', null)
    .executeTakeFirst();
  if (!row || row.visibility !== 'public') return null;
  return answerNote(
    siteUrl,
    { id: row.id, body: row.body, createdAt: row.created_at },
    { objectId: row.remote_object_id!, actor: row.remote_actor! },
    `${siteUrl}/posts/${encodeURIComponent(row.slug)}`,
  );
}

export async function articleForFetch(db: Kysely<Database>, siteUrl: string, postId: string) {
  return articleById(db, siteUrl, postId);
}

export { SITE_ACTOR };
