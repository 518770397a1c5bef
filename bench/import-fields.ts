/**
 * A first import whose file has a custom member field column (README "Custom member fields"):
 * N new members (default 200,000; email, name, city), the site having a `city` text field.
 * Times upload + run end to end and the merge alone, and checks every member got their city.
 * Before 2026-12-01 the merge wrote new members' field values by an update after their insert,
 * which the planner ran as a nested loop over every member per row (20,000 rows: 18 s; 40,000:
 * 75 s): this figure is what guards against that coming back.
 * Usage: npm run bench:import-fields -- [N]. BENCH_DATABASE_URL or an embedded PostgreSQL.
 */
import { createReadStream, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createImport, getImport, runImport, startImport } from '../src/domain/imports/pipeline.ts';
import { setLogLevel } from '../src/lib/log.ts';
import { withScratchDatabase } from './scratch.ts';

const rows = Number(process.argv[2] ?? 200_000);
const file = join(tmpdir(), `hearth-bench-import-fields-${rows}.csv`);
if (!existsSync(file)) {
  const lines = ['email,name,city'];
  for (let i = 0; i < rows; i++) lines.push(`f${i}@example.com,Name ${i},City ${i % 50}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}
setLogLevel('warn');

await withScratchDatabase('import_fields', { poolSize: 3 }, async ({ db, pool, embedded }) => {
  await db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
  await db.insertInto('member_fields').values({ key: 'city', label: 'City', type: 'text' }).execute();
  const t0 = performance.now();
  const created = await createImport(db, { filename: 'fields.csv', body: createReadStream(file, { highWaterMark: 1024 * 1024 }) });
  await startImport(db, created.id, {});
  await runImport(db, pool, created.id);
  const seconds = (performance.now() - t0) / 1000;
  const done = await getImport(db, created.id);
  if (done.status !== 'done') throw new Error(`import ${done.status}: ${done.error}`);
  const withCity = Number((await sql<{ n: string }>`select count(*) as n from members where fields ? 'city'`.execute(db)).rows[0]!.n);
  if (withCity !== rows) throw new Error(`${withCity} of ${rows} members got their city`);
  console.log(
    JSON.stringify({
      figure: 'first import with a custom field column',
      rows,
      imported: done.imported,
      totalSeconds: Number(seconds.toFixed(1)),
      rowsPerSecond: Math.round(rows / seconds),
      database: embedded ? 'embedded' : 'external',
    }),
  );
});
