import { sql, type Kysely } from 'kysely';
import type { Database, StaffRole } from '../../../db/types.ts';
import { can } from '../staff/permissions.ts';

/**
 * What needs a human now, for the admin navigation's badge: unanswered questions and held
 * comments (for those who moderate), failed sends (for those who send). Each count is one probe
 * of a partial index (comments_questions_idx, comments_status_idx) or the small sends table, so
 * every admin page can afford it.
 */
export interface Needs {
  questions: number;
  held: number;
  failed_sends: number;
  total: number;
}

export async function needsHuman(db: Kysely<Database>, role: StaffRole): Promise<Needs> {
  const moderates = can(role, 'comments:moderate');
  const sends = can(role, 'sends:write');
  const row = await sql<{ questions: number; held: number; failed: number }>`
    select
      ${moderates ? sql`(select count(*)::int from comments where question and status = 'published' and answered_at is null)` : sql`0`} as questions,
      ${moderates ? sql`(select count(*)::int from comments where status = 'held')` : sql`0`} as held,
      ${sends ? sql`(select count(*)::int from sends where status = 'failed')` : sql`0`} as failed
  `.execute(db);
  const r = row.rows[0]!;
  return { questions: r.questions, held: r.held, failed_sends: r.failed, total: r.questions + r.held + r.failed };
}
