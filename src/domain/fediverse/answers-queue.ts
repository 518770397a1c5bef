import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';

/** A staff answer to a fediverse comment goes back as a reply (answers.ts sends it); keyed by the answer. */
export async function queueFediverseAnswer(db: Kysely<Database>, commentId: string): Promise<void> {
  await enqueue(db, 'fediverse_answer', { commentId }, { jobKey: `fediverse_answer:${commentId}`, maxAttempts: 10 });
}
