/**
 * A post page with a busy conversation under load: 200 top-level comments, 400 replies and
 * 1,000 reactions under one post, read by an anonymous reader and by a signed-in member (whose
 * page also carries the forms: the first screen of threads, FIRST_SCREEN), and, for scale, the
 * same member reading a post without comments (what a signed-in post page costs anyway). The real server (`hearth serve --no-worker`) on an embedded
 * PostgreSQL, 10 keep-alive connections for N seconds each. Usage: npm run bench:conversation -- [seconds]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { createMemberSession } from '../src/domain/membership/sessions.ts';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.argv[2] ?? 15);
const PATH = '/posts/why-we-left-the-algorithm';
const QUIET_PATH = '/posts/dialing-in-espresso-at-home';
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';

// BENCH_KEEP=<database>: generate once, reuse on later runs (before/after alternations);
// BENCH_READERS=member,quiet,anonymous: which runs (all three by default);
// BENCH_NODE_ARGS: node flags for the server (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
const KEEP = process.env.BENCH_KEEP || undefined;
const READERS = (process.env.BENCH_READERS ?? 'member,quiet,anonymous').split(',');
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

await withScratchDatabase('conversation', { poolSize: 2, ...(KEEP ? { keep: KEEP } : {}) }, async (handle) => {
  const url = handle.url;
  if (!handle.reused) await seed(handle);
  const member = await handle.db.selectFrom('members').select('id').orderBy('id').limit(1).executeTakeFirstOrThrow();
  const { token } = await createMemberSession(handle.db, member.id);
  await handle.close();
  await serveAndLoad(url, token);
});

async function seed(handle: Parameters<Parameters<typeof withScratchDatabase>[2]>[0]): Promise<void> {
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
}

async function serveAndLoad(url: string, token: string): Promise<void> {
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
  const server = spawn(process.execPath, [...NODE_ARGS, join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'], {
    cwd: ROOT,
    env,
    stdio: 'ignore',
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

  function get(cookie: string, path = PATH): Promise<{ status: number; bytes: number }> {
    return new Promise((done, fail) => {
      const req = request({ host: '127.0.0.1', port, path, agent, headers: cookie ? { cookie } : {} }, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => done({ status: res.statusCode ?? 0, bytes }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  /** The server's CPU time so far (ms), from /proc (Linux); undefined elsewhere. */
  function serverCpuMs(): number | undefined {
    try {
      const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 1/100 s
    } catch {
      return undefined;
    }
  }

  async function load(reader: string, cookie: string, path = PATH) {
    for (let i = 0; i < 300; i++) await get(cookie, path); // warm-up
    const latencies: number[] = [];
    let errors = 0;
    let bytes = 0;
    const cpuBefore = serverCpuMs();
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const res = await get(cookie, path).catch(() => ({ status: 0, bytes: 0 }));
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
        path,
        comments: path === PATH ? 600 : 0,
        reactions: path === PATH ? 1000 : 0,
        pageBytes: bytes,
        connections: CONNECTIONS,
        seconds: SECONDS,
        requests: latencies.length,
        errors,
        requestsPerSecond: Math.round(latencies.length / SECONDS),
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
        // The server process's own CPU (user + system) per request: steadier than the rate on a busy machine.
        serverCpuMsPerRequest: cpuBefore === undefined ? undefined : Number(((serverCpuMs()! - cpuBefore) / latencies.length).toFixed(3)),
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
    // Members first: the anonymous run (thousands of views a second from the cache) leaves
    // PostgreSQL writing their events for a while after it, which a run after it would pay for.
    if (READERS.includes('member')) await load('member', `hearth_member=${token}`);
    if (READERS.includes('quiet')) await load('member', `hearth_member=${token}`, QUIET_PATH);
    if (READERS.includes('anonymous')) await load('anonymous', '');
  } finally {
    agent.destroy();
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
}
