import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { listNewsletters as allNewsletters } from '../newsletters/newsletters.ts';

/**
 * Newsletters and tiers as the public contract names them (DESIGN.md, Admin API v1). Newsletters
 * open to subscribers only, unless `archived` (staff lists) asks for the archived ones too.
 */
export async function listNewsletters(db: Kysely<Database>, options: { archived?: boolean } = {}) {
  const rows = await allNewsletters(db, options);
  return rows.map((r) => ({
    id: r.id,
    slug: r.slug,
    name: r.name,
    description: r.description,
    default: r.is_default,
    archived: r.archived_at !== null,
  }));
}

export async function listTiers(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('tiers')
    .select(['id', 'slug', 'name', 'description', 'paid', 'monthly_amount', 'yearly_amount', 'currency', 'trial_days'])
    .where('active', '=', true)
    .orderBy('paid')
    .orderBy('id')
    .execute();
  return rows;
}

/** Above this many rows, the dashboard shows the planner's estimate instead of count(*). */
const EXACT_COUNT_LIMIT = 100_000;

export async function dashboardCounts(db: Kysely<Database>) {
  // count(*) reads the whole table; at a million members that is a noticeable wait on every
  // dashboard load, while pg_class.reltuples (kept by autovacuum/ANALYZE) is free and close.
  const estimate = await sql<{
    n: string;
  }>`select greatest(reltuples, 0)::bigint as n from pg_class where oid = 'members'::regclass`.execute(db);
  const estimated = Number(estimate.rows[0]?.n ?? 0);
  const [members, posts, staff] = await Promise.all([
    estimated > EXACT_COUNT_LIMIT
      ? Promise.resolve({ n: String(estimated) })
      : db
          .selectFrom('members')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow(),
    db
      .selectFrom('posts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('staff_users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { members: Number(members.n), membersApproximate: estimated > EXACT_COUNT_LIMIT, posts: Number(posts.n), staff: Number(staff.n) };
}
