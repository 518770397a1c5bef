/**
 * A post page with a busy conversation under load: 200 top-level comments, 400 replies and
 * 1,000 reactions under one post, read by an anonymous reader and by a signed-in member (whose
 * page also carries the forms). The real server (`hearth serve --no-worker`) on an embedded
 * PostgreSQL, 10 keep-alive connections for N seconds each. Usage: npm run bench:conversation -- [seconds]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { createMemberSession } from '../src/domain/membership/sessions.ts';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONNECTIONS = 10;
const SECONDS = Number(process.argv[2] ?? 15);
const PATH = '/posts/why-we-left-the-algorithm';
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';

await withScratchDatabase('conversation', { poolSize: 2 }, async (handle) => {
  const url = handle.url;
  await seedDemo(handle.db, { members: 300 });
  const post = await handle.db.selectFrom('posts').select('id').where('slug', '=', 'why-we-left-the-algorithm').executeTakeFirstOrThrow();
  // 200 comments by demo members, two replies each, reactions spread over them.
  await sql`
    insert into comments (post_id, member_id, body, created_at, announced)
    select ${post.id}, m.id, 'A **comment** with a [link](https://example.com/' || g || ') and some words to render, number ' || g,
           now() - make_interval(mins => 1000 - g), true
    from generate_series(1, 200) g
    join lateral (select id from members order by id offset (g % 300) limit 1) m on true`.execute(handle.db);
  await sql`
    insert into comments (post_id, parent_id, member_id, body, created_at, announced)
    select c.post_id, c.id, m.id, '> quoting\n\nA reply, ' || r, c.created_at + make_interval(mins => r), true
    from comments c cross join generate_series(1, 2) r
    join lateral (select id from members order by id offset ((c.id + r) % 300) limit 1) m on true
    where c.post_id = ${post.id} and c.parent_id is null`.execute(handle.db);
  await sql`
    insert into reactions (member_id, post_id, comment_id, kind)
    select m.id, ${post.id}, c.id, (array['like','love','laugh','insightful','thanks'])[1 + (m.id % 5)]
    from (select id from members order by id limit 5) m
    cross join (select id from comments where post_id = ${post.id} order by id limit 200) c
    on conflict do nothing`.execute(handle.db);
  const member = await handle.db.selectFrom('members').select('id').orderBy('id').limit(1).executeTakeFirstOrThrow();
  const { token } = await createMemberSession(handle.db, member.id);
  await handle.close();

  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: url,
    APP_SECRET: SECRET,
    PORT: String(port),
    HOST: '127.0.0.1',
    SITE_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
  };
  const server = spawn(process.execPath, [join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'], { cwd: ROOT, env, stdio: 'ignore' });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

  function get(cookie: string): Promise<{ status: number; bytes: number }> {
    return new Promise((done, fail) => {
      const req = request({ host: '127.0.0.1', port, path: PATH, agent, headers: cookie ? { cookie } : {} }, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => done({ status: res.statusCode ?? 0, bytes }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  async function load(reader: string, cookie: string) {
    for (let i = 0; i < 300; i++) await get(cookie); // warm-up
    const latencies: number[] = [];
    let errors = 0;
    let bytes = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const res = await get(cookie).catch(() => ({ status: 0, bytes: 0 }));
          if (res.status !== 200) errors++;
          bytes = res.bytes || bytes;
          latencies.push(performance.now() - t0);
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2));
    console.log(
      JSON.stringify({
        figure: 'post page with a busy conversation',
        reader,
        comments: 600,
        reactions: 1000,
        pageBytes: bytes,
        connections: CONNECTIONS,
        seconds: SECONDS,
        requests: latencies.length,
        errors,
        requestsPerSecond: Math.round(latencies.length / SECONDS),
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
      }),
    );
  }

  try {
    for (;;) {
      try {
        if ((await get('')).status === 200) break;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await load('anonymous', '');
    await load('member', `hearth_member=${token}`);
  } finally {
    agent.destroy();
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});
