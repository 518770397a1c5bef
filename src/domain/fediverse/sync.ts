import { createHash, randomUUID } from 'node:crypto';
import { Create, Delete, Tombstone, Update } from '@fedify/vocab';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { dbNow } from '../../lib/sql.ts';
import { getSiteSettings } from '../site/settings.ts';
import { queueToFollowers } from './delivery.ts';
import { actorId, articleFrom, articleId, articleParts, followersId, type ArticleParts } from './objects.ts';
import { contextLoader } from './context-loader.ts';

/**
 * Posts to followers. Any change to a post (written, published, edited, unpublished) schedules
 * one sync job per post (job key `fediverse_post:<id>`, run when the post goes live): the job
 * compares the post as an anonymous reader sees it with what followers last received
 * (fediverse_posts) and sends Create, Update or Delete, or nothing. The record, the deliveries
 * and their jobs are written in one transaction, so a retried job sends its activity once.
 */
export async function scheduleFediversePostSync(db: Kysely<Database>, postId: string, at?: Date | null): Promise<void> {
  const site = await getSiteSettings(db);
  if (!site.fediverse.enabled) return;
  const runAt = at && at.getTime() > Date.now() ? at : undefined;
  await enqueue(db, 'fediverse_post_sync', { postId }, { jobKey: `fediverse_post:${postId}`, runAt, maxAttempts: 10 });
}

const POST_COLUMNS = [
  'id',
  'slug',
  'title',
  'excerpt',
  'markdown',
  'visibility',
  'published_at',
  'updated_at',
  'tags',
  'tier_ids',
  'feature_image',
] as const;

async function livePost(db: Kysely<Database>, postId: string) {
  return db
    .selectFrom('posts')
    .select(POST_COLUMNS)
    .where('id', '=', postId)
    .where('status', 'in', ['published', 'scheduled'])
    .where('email_only', '=', false)
    .where('published_at', '<=', dbNow())
    .executeTakeFirst();
}

function digestOf(parts: ArticleParts): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export type SyncOutcome = 'create' | 'update' | 'delete' | 'none';

export async function syncPost(db: Kysely<Database>, siteUrl: string, postId: string): Promise<SyncOutcome> {
  return db.transaction().execute(async (trx) => {
    const site = await getSiteSettings(trx);
    if (!site.fediverse.enabled) return 'none';
    // One sync of a post at a time: the record is read and written under this lock.
    await sql`select pg_advisory_xact_lock(hashtext(${'fediverse-post:' + postId}))`.execute(trx);
    const [post, prior] = await Promise.all([
      livePost(trx, postId),
      trx.selectFrom('fediverse_posts').selectAll().where('post_id', '=', postId).executeTakeFirst(),
    ]);
    const actor = actorId(siteUrl);
    const stamp = `${Date.now()}-${randomUUID().slice(0, 8)}`;
    if (!post) {
      if (prior?.state !== 'live') return 'none';
      const id = new URL(`${prior.object_id}#delete-${stamp}`);
      const activity = new Delete({
        id,
        actor,
        to: new URL('https://www.w3.org/ns/activitystreams#Public'),
        cc: followersId(siteUrl),
        object: new Tombstone({ id: new URL(prior.object_id) }),
      });
      await trx.updateTable('fediverse_posts').set({ state: 'deleted', updated_at: new Date() }).where('post_id', '=', postId).execute();
      await queueToFollowers(trx, id.href, (await activity.toJsonLd({ contextLoader })) as Record<string, unknown>);
      return 'delete';
    }
    const parts = articleParts(siteUrl, site.title, post);
    const digest = digestOf(parts);
    if (prior?.state === 'live' && prior.digest === digest) return 'none';
    const kind: SyncOutcome = prior?.state === 'live' ? 'update' : 'create';
    const object = articleFrom(siteUrl, parts, kind === 'update' ? new Date() : undefined);
    const id = new URL(`${articleId(siteUrl, post.id).href}#${kind}-${stamp}`);
    const common = { id, actor, to: new URL('https://www.w3.org/ns/activitystreams#Public'), cc: followersId(siteUrl), object };
    const activity = kind === 'update' ? new Update(common) : new Create(common);
    await trx
      .insertInto('fediverse_posts')
      .values({ post_id: postId, object_id: parts.id, state: 'live', digest })
      .onConflict((oc) => oc.column('post_id').doUpdateSet({ state: 'live', digest, object_id: parts.id, updated_at: new Date() }))
      .execute();
    await queueToFollowers(trx, id.href, (await activity.toJsonLd({ contextLoader })) as Record<string, unknown>);
    return kind;
  });
}

/**
 * The outbox: every post live on the web, newest first, as Articles' parts (gated ones as their
 * preview). Not only what was sent to followers: posts published before federation was turned on
 * are there too, so a new follower's server can backfill them. Keyset-paged on (published_at, id);
 * the cursor carries published_at to the microsecond (toISOString would cut it to the
 * millisecond and skip or repeat posts published within the same millisecond).
 */
export const OUTBOX_PAGE = 20;

function livePosts(db: Kysely<Database>) {
  return db
    .selectFrom('posts as p')
    .where('p.status', 'in', ['published', 'scheduled'])
    .where('p.email_only', '=', false)
    .where('p.published_at', '<=', dbNow());
}

export async function liveArticlePage(
  db: Kysely<Database>,
  siteUrl: string,
  cursor: string,
  limit = OUTBOX_PAGE,
): Promise<{ items: ArticleParts[]; next: string | null }> {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)_(\d{1,18})$/.exec(cursor);
  const site = await getSiteSettings(db);
  const rows = await livePosts(db)
    .select(POST_COLUMNS.map((c) => `p.${c}` as const))
    .select(sql<string>`to_char(p.published_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('at'))
    .$if(m !== null, (q) => q.where(sql<boolean>`(p.published_at, p.id) < (${m![1]}::timestamptz, ${m![2]}::bigint)`))
    .orderBy('p.published_at', 'desc')
    .orderBy('p.id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((p) => articleParts(siteUrl, site.title, p)),
    next: rows.length > limit && last ? `${last.at}_${last.id}` : null,
  };
}

export async function countLiveArticles(db: Kysely<Database>): Promise<number> {
  const row = await livePosts(db)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The Article as fetched by its id: only a post that is live on the web (gated: its preview). */
export async function articleById(db: Kysely<Database>, siteUrl: string, postId: string) {
  if (!/^\d{1,18}$/.test(postId)) return null;
  const post = await livePost(db, postId);
  if (!post) return null;
  const site = await getSiteSettings(db);
  return articleFrom(siteUrl, articleParts(siteUrl, site.title, post));
}
