/**
 * The open and click endpoints under load: the real server (`hearth serve --no-worker`, built
 * site), a prepared send of 1,000 members, and keep-alive connections from this process
 * alternating opens and clicks (human browser agent, deliveries posted long ago) for S seconds.
 * Prints requests/s and latency percentiles, then checks that every answered request left its
 * event. Usage: npm run bench:tracking -- [seconds=15] [connections=32]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { sql } from 'kysely';
import { prepareSend } from '../src/domain/sending/prepare.ts';
import { createSend } from '../src/domain/sending/sends.ts';
import { clickToken, openToken } from '../src/domain/tracking/tokens.ts';
import { freePort } from '../src/lib/embedded-postgres.ts';
import { CLI, cleanEnv, ROOT } from '../test/helpers/server.ts';
import { makePost, seedAudience } from '../test/helpers/sending.ts';

const SECONDS = Number(process.argv[2] ?? 15);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const port = await freePort();
let child: ReturnType<typeof spawn> | undefined;
try {
  await withScratchDatabase('tracking', { poolSize: 4 }, async (handle) => {
    await seedAudience(handle.db, 1000);
    const postId = await makePost(handle.db, {
      title: 'Links',
      markdown: 'See [the shop](https://shop.example.com/beans) and [the story](https://example.org/story).',
    });
    const send = await createSend(handle.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
    await prepareSend(handle.db, { siteUrl: `http://127.0.0.1:${port}`, from: 'a@example.com' }, send.id);
    // A send that went out an hour ago (the usual case: clicks trickle in for days).
    await sql`update deliveries set posted_at = now() - interval '1 hour', status = 'posted' where send_id = ${send.id}`.execute(handle.db);
    await sql`update sends set status = 'sent', finished_at = now() - interval '1 hour' where id = ${send.id}`.execute(handle.db);
    const members = (await handle.db.selectFrom('deliveries').select('member_id').where('send_id', '=', send.id).execute()).map(
      (r) => r.member_id,
    );
    const paths = members.flatMap((m) => [`/t/o/${openToken(SECRET, send.id, m)}`, `/t/c/${clickToken(SECRET, send.id, m, 1)}`]);

    child = spawn(process.execPath, [CLI, 'serve', '--no-worker'], {
      cwd: ROOT,
      env: cleanEnv({
        DATABASE_URL: handle.url,
        APP_SECRET: SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        SITE_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: 'warn',
      }),
      stdio: 'ignore',
    });
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const get = (path: string) =>
      new Promise<number>((done, fail) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path,
            agent,
            headers: {
              'user-agent':
                'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => done(res.statusCode ?? 0));
          },
        );
        req.on('error', fail);
        req.end();
      });
    for (;;) {
      try {
        if ((await get('/healthz')) === 200) break;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await Promise.all(Array.from({ length: 200 }, (_, i) => get(paths[i % paths.length]!))); // warm-up
    const before = Number((await sql<{ n: string }>`select count(*) as n from engagement_events`.execute(handle.db)).rows[0]!.n);
    const latencies: number[] = [];
    let answered = 0;
    let errors = 0;
    let next = 0;
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) {
          const path = paths[next++ % paths.length]!;
          const t0 = performance.now();
          const status = await get(path);
          latencies.push(performance.now() - t0);
          if (status === 200 || status === 302) answered++;
          else errors++;
        }
      }),
    );
    const after = Number((await sql<{ n: string }>`select count(*) as n from engagement_events`.execute(handle.db)).rows[0]!.n);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1));
    console.log(
      JSON.stringify({
        figure: 'open + click endpoints under load',
        connections: CONNECTIONS,
        seconds: SECONDS,
        requestsPerSecond: Math.round(latencies.length / SECONDS),
        p50ms: pct(50),
        p99ms: pct(99),
        answered,
        errors,
        eventsWritten: after - before,
        everyAnsweredEventPresent: after - before === answered,
        database: handle.embedded ? 'embedded' : 'external',
      }),
    );
  });
} finally {
  child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
}
