/**
 * Custom member field filters at N members (default 1,000,000): members.fields jsonb with a GIN
 * index (migration 0032). Members get a city (100 choices: 1% each), half an age, 30% a yes/no.
 * Times the domain calls the admin and API make — count and first page of `field.city=city42`,
 * count of `field_set=quote_ok`, and a combined filter — median and p95 of 10 runs after 2
 * warm-ups, with the index and again without it (the "before"). Prints the plan of the count.
 * Usage: npm run bench:member-fields -- [N]. BENCH_DATABASE_URL or an embedded PostgreSQL.
 */
import { sql } from 'kysely';
import { countMembers, listMembers, type MemberFilter } from '../src/domain/members/list.ts';
import { withScratchDatabase } from './scratch.ts';

const target = Number(process.argv[2] ?? 1_000_000);

async function timed(label: string, fn: () => Promise<unknown>, runs = 10) {
  for (let i = 0; i < 2; i++) await fn();
  const times: number[] = [];
  let result: unknown;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { label, medianMs: Number(times[Math.floor(runs / 2)]!.toFixed(1)), p95Ms: Number(times[runs - 1]!.toFixed(1)), result };
}

await withScratchDatabase('fields', { poolSize: 2 }, async ({ db }) => {
  const t0 = performance.now();
  await sql`
    insert into member_fields (key, label, type, options) values
      ('city', 'City', 'choice', (select array_agg('city' || g) from generate_series(0, 99) g)),
      ('age', 'Age', 'number', '{}'), ('quote_ok', 'Quote', 'boolean', '{}')`.execute(db);
  await sql`
    insert into members (email, status, tier_id, referral_code, source_platform, created_at, fields)
    select 'm' || g || '@example.com', 'active', (select id from tiers where slug = 'free'), md5(g::text), 'instagram',
           now() - make_interval(secs => g),
           jsonb_strip_nulls(jsonb_build_object(
             'city', 'city' || (g % 100),
             'age', case when g % 2 = 0 then 18 + g % 63 end,
             'quote_ok', case when g % 10 < 3 then g % 20 < 10 end))
    from generate_series(1, ${target}) g`.execute(db);
  await sql`analyze members`.execute(db);
  console.log(`seeded ${target.toLocaleString('en')} members in ${Math.round(performance.now() - t0)} ms`);

  const city: MemberFilter = { fields: [{ key: 'city', equals: 'city42' }] };
  const quote: MemberFilter = { fields: [{ key: 'quote_ok', set: true }] };
  const both: MemberFilter = {
    fields: [
      { key: 'city', equals: 'city42' },
      { key: 'age', equals: '60' },
    ],
  };
  const run = async () => [
    await timed('count field.city=city42 (1%)', () => countMembers(db, city)),
    await timed('first page field.city=city42', async () => (await listMembers(db, city, { limit: 50 })).members.length),
    await timed('count field_set=quote_ok (30%)', () => countMembers(db, quote)),
    await timed('count field.city=city42&field.age=60', () => countMembers(db, both)),
  ];
  const plan = await sql<{
    'QUERY PLAN': string;
  }>`explain (analyze, costs off, timing off) select count(*) from members m where m.fields @> '{"city":"city42"}'::jsonb`.execute(db);
  console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
  const withIndex = await run();
  await sql`drop index members_fields_idx`.execute(db);
  const withoutIndex = await run();
  console.log(JSON.stringify({ members: target, withIndex, withoutIndex }, null, 2));
});
