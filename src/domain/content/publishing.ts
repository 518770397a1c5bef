import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';

/**
 * A scheduled post becomes published when its time comes. Readers see it from that moment
 * anyway (every read treats `scheduled` with a past `published_at` as published); this is
 * what makes it a fact the rest of Hearth hears of: its status turns `published` and the
 * `post.published` webhook event is emitted, in one transaction, once.
 *
 * A job per scheduled post runs at its time (key `post-<id>-publish`, replaced when the time
 * changes), and a crontab pass every minute catches any the queue missed. Each run publishes
 * every post that is due; the update's `status = 'scheduled'` guard, re-checked under the row
 * lock, lets only one of two concurrent runs turn a post and emit its event.
 */
export const publishJobKey = (postId: string) => `post-${postId}-publish`;

/** The job that publishes a post at its time; enqueued in the transaction that scheduled it. */
export async function enqueuePublish(db: Kysely<Database>, postId: string, at: Date): Promise<void> {
  await enqueue(db, 'publish_post', { postId }, { jobKey: publishJobKey(postId), runAt: at, maxAttempts: 10 });
}

/** Publishes every scheduled post whose time has come; returns how many. */
export async function publishDuePosts(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // Neither revision nor updated_at moves: nobody edited the post, and an editor open on it
    // must not get a "someone else saved this post" conflict.
    const published = await sql<{ id: string; slug: string }>`
      update posts set status = 'published'
       where status = 'scheduled' and published_at <= now()
      returning id, slug
    `.execute(trx);
    for (const post of published.rows) await emitWebhookEvent(trx, 'post.published', { id: post.id, slug: post.slug });
    return published.rows.length;
  });
}
