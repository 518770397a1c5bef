/**
 * The admin members list at a million members: first page, a deep page (keyset cursor half way
 * down), a prefix search, and filtered counts — the server time of each domain call, median
 * and p95 of 20 runs after 3 warm-ups. Usage: npm run bench:members -- [N]  (default 1,000,000)
 * Keeps its database (hearth_bench_members) between runs; BENCH_DATABASE_URL or an embedded
 * PostgreSQL under the system temp folder. BENCH_MEMBERS_DB names another database (a branch with
 * other migrations keeps its own).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { countMembers, listMembers, type MemberFilter } from '../src/domain/members/list.ts';
import type { MemberSort } from '../src/domain/members/sort.ts';
import { createDatabase } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';

const target = Number(process.argv[2] ?? 1_000_000);
const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-postgres'));
const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
const name = process.env.BENCH_MEMBERS_DB ?? 'hearth_bench_members';
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
if ((await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 0)
  await admin.query(`create database "${name}"`);
await admin.end();
const handle = createDatabase(withDatabase(server, name), { max: 2 });
const { db } = handle;

async function timed<T>(label: string, fn: () => Promise<T>, runs = 20) {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(runs / 2)]!;
  const p95 = times[Math.floor(runs * 0.95) - 1]!;
  return { label, medianMs: Number(median.toFixed(1)), p95Ms: Number(p95.toFixed(1)), result };
}

try {
  await migrateToLatest(db, handle.pool);
  const have = Number(
    (
      await db
        .selectFrom('members')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
  if (have < target) {
    const t0 = performance.now();
    await seedDemo(db, { members: target - have });
    console.error(`seeded ${target - have} members in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await sql`vacuum analyze members`.execute(db);
  await sql`vacuum analyze member_newsletters`.execute(db);
  const total = Number(
    (
      await db
        .selectFrom('members')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

  // A cursor half way down the list, as a staff user paging that far would hold.
  const middle = await sql<{
    id: string;
    k: string;
  }>`select id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as k from members order by created_at desc, id desc offset ${Math.floor(total / 2)} limit 1`.execute(
    db,
  );
  const deepCursor = Buffer.from(JSON.stringify([middle.rows[0]!.k, middle.rows[0]!.id])).toString('base64url');

  const filtered: MemberFilter = { newsletter: 'roastery-dispatch', status: 'active', platform: 'instagram' };
  const figures = [
    await timed('first page (50, newest first)', () => listMembers(db, {}, { limit: 50 })),
    await timed('deep page (50, cursor at the middle)', () => listMembers(db, {}, { limit: 50, after: deepCursor })),
    await timed('prefix search "reader4242" (first page)', () => listMembers(db, { query: 'reader4242' }, { limit: 50 })),
    await timed('prefix search "ana" (name or address, first page)', () => listMembers(db, { query: 'ana' }, { limit: 50 })),
    await timed('filtered page: newsletter + status + platform', () => listMembers(db, filtered, { limit: 50 })),
    await timed('count: newsletter + status + platform', () => countMembers(db, filtered)),
    await timed('count: status=active', () => countMembers(db, { status: 'active' })),
    await timed('count: everyone', () => countMembers(db, {})),
    // The members table sorted by a column (domain/members/sort.ts): first page and the next.
    ...(await sortedFigures()),
  ];
  async function sortedFigures() {
    const out = [];
    const sorts: MemberSort[] = [
      { key: 'name', dir: 'asc' },
      { key: 'status', dir: 'desc' },
      { key: 'joined', dir: 'asc' },
      { key: 'score', dir: 'desc' },
      { key: 'score', dir: 'asc' },
      { key: 'active', dir: 'desc' },
      { key: 'active', dir: 'asc' },
    ];
    for (const sort of sorts) {
      const first = await listMembers(db, {}, { limit: 50, sort });
      out.push(await timed(`sorted ${sort.key} ${sort.dir}: first page`, () => listMembers(db, {}, { limit: 50, sort })));
      out.push(
        await timed(`sorted ${sort.key} ${sort.dir}: second page`, () => listMembers(db, {}, { limit: 50, sort, after: first.next! })),
      );
    }
    // A narrow filter (1 % of members) walks the index further before it has a page.
    for (const sort of [
      { key: 'score', dir: 'desc' },
      { key: 'name', dir: 'asc' },
    ] as MemberSort[]) {
      out.push(
        await timed(`sorted ${sort.key} ${sort.dir}, platform = mastodon: first page`, () =>
          listMembers(db, { platform: 'mastodon' }, { limit: 50, sort }),
        ),
      );
    }
    return out;
  }

  console.log(
    JSON.stringify({
      figure: 'members list at scale',
      members: total,
      results: figures.map((f) => ({
        query: f.label,
        medianMs: f.medianMs,
        p95Ms: f.p95Ms,
        rows: typeof f.result === 'number' ? f.result : (f.result as { members: unknown[] }).members.length,
      })),
    }),
  );
} finally {
  await handle.close();
  await embedded?.stop();
}
