/**
 * Live figures under load (issue 20), on the real server (`hearth serve --no-worker`, built site):
 *
 *   report: a live send to 100,000 members with 150,000 earlier events, tracking endpoints driven
 *           at ~2,000 events/s (opens and clicks) while the send report is asked every 50 ms:
 *           the report's latency percentiles, the event rate reached; then, for the choice made
 *           in lib/event-writer.ts, the time of counting the same send's figures from the events.
 *   stream: the post page's p99 (10 keep-alive connections) alone, then with 200 stream clients
 *           on /api/v1/live and 50 facts/s committed to the feed.
 *
 * Usage: node bench/live.ts report|stream [seconds=15]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { sql } from 'kysely';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { prepareSend } from '../src/domain/sending/prepare.ts';
import { createSend } from '../src/domain/sending/sends.ts';
import { createApiToken } from '../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../src/domain/staff/users.ts';
import { clickToken, openToken } from '../src/domain/tracking/tokens.ts';
import { freePort } from '../src/lib/embedded-postgres.ts';
import { CLI, cleanEnv, ROOT } from '../test/helpers/server.ts';
import { makePost, seedAudience } from '../test/helpers/sending.ts';
import { withScratchDatabase } from './scratch.ts';

const MODE = process.argv[2] ?? 'report';
const SECONDS = Number(process.argv[3] ?? 15);
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const port = await freePort();
let child: ReturnType<typeof spawn> | undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function get(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { 'user-agent': BROWSER, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1));
};
async function up(): Promise<void> {
  for (;;) {
    try {
      if ((await get('/healthz')) === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
function serve(url: string): void {
  child = spawn(process.execPath, [CLI, 'serve', '--no-worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: url,
      APP_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      SITE_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
    }),
    stdio: 'ignore',
  });
}

try {
  await withScratchDatabase(`live_${MODE}`, { poolSize: 4 }, async (handle) => {
    const owner = await createStaffUser(handle.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
    const token = (await createApiToken(handle.db, owner.id, 'bench')).token;
    if (MODE === 'report') {
      await seedAudience(handle.db, 100_000);
      const postId = await makePost(handle.db, {
        title: 'Live',
        markdown: 'See [the shop](https://shop.example.com/beans) and [the story](https://example.org/story).',
      });
      const send = await createSend(handle.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
      await prepareSend(handle.db, { siteUrl: `http://127.0.0.1:${port}`, from: 'a@example.com' }, send.id);
      await sql`update deliveries set posted_at = now() - interval '1 hour', status = 'posted' where send_id = ${send.id}`.execute(
        handle.db,
      );
      await sql`update sends set status = 'sending', prepared_at = now() - interval '1 hour' where id = ${send.id}`.execute(handle.db);
      // The send's first hour: 150,000 opens and clicks already in (1.5 per recipient).
      await sql`
        insert into engagement_events (occurred_at, kind, member_id, send_id, link, machine, agent)
        select now() - interval '30 minutes', case when g % 3 = 0 then 'click' else 'open' end, d.member_id, ${send.id},
          case when g % 3 = 0 then g % 2 end, g % 5 = 0, 'browser'
        from (select member_id, row_number() over () as g from deliveries where send_id = ${send.id}) d
        cross join generate_series(1, 2) k where d.g * 2 + k <= 150000 + 2
      `.execute(handle.db);
      await sql`analyze engagement_events`.execute(handle.db);
      const members = (await handle.db.selectFrom('deliveries').select('member_id').where('send_id', '=', send.id).execute()).map(
        (r) => r.member_id,
      );
      const paths = members.flatMap((m) => [`/t/o/${openToken(SECRET, send.id, m)}`, `/t/c/${clickToken(SECRET, send.id, m, 1)}`]);
      serve(handle.url);
      await up();
      const reportPath = `/api/v1/stats/sends/${send.id}`;
      const auth = { authorization: `Bearer ${token}` };
      for (let i = 0; i < 20; i++) await get(reportPath, auth);
      const end = Date.now() + SECONDS * 1000;
      let events = 0;
      let next = 0;
      const reports: number[] = [];
      // Tracking paced at 2,000 events/s: 40 connections, each one request per 20 ms.
      const tracking = Array.from({ length: 40 }, async () => {
        while (Date.now() < end) {
          const t0 = performance.now();
          const status = await get(paths[next++ % paths.length]!);
          if (status === 200 || status === 302) events++;
          const wait = 20 - (performance.now() - t0);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      });
      const asking = (async () => {
        while (Date.now() < end) {
          const t0 = performance.now();
          const status = await get(reportPath, auth);
          if (status !== 200) throw new Error(`report answered ${status}`);
          reports.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await Promise.all([...tracking, asking]);
      // The alternative: the same send's figures counted from its events.
      const direct: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await sql`
          select count(*) filter (where kind = 'open' and not machine), count(distinct member_id) filter (where kind = 'open' and not machine),
            count(*) filter (where kind = 'open' and machine), count(*) filter (where kind = 'click' and not machine),
            count(distinct member_id) filter (where kind = 'click' and not machine), count(*) filter (where kind = 'click' and machine)
          from engagement_events where send_id = ${send.id} and kind in ('open', 'click')`.execute(handle.db);
        await sql`
          select link, count(*) filter (where not machine), count(distinct member_id) filter (where not machine)
          from engagement_events where send_id = ${send.id} and kind = 'click' group by link`.execute(handle.db);
        direct.push(performance.now() - t0);
      }
      const total = Number(
        (await sql<{ n: string }>`select count(*) as n from engagement_events where send_id = ${send.id}`.execute(handle.db)).rows[0]!.n,
      );
      console.log(
        JSON.stringify({
          figure: 'live send report (100,000 recipients) while tracking takes events',
          seconds: SECONDS,
          trackingEventsPerSecond: Math.round(events / SECONDS),
          reports: reports.length,
          reportP50ms: pct(reports, 50),
          reportP99ms: pct(reports, 99),
          sendEvents: total,
          directCountP50ms: pct(direct, 50),
          database: handle.embedded ? 'embedded' : 'external',
        }),
      );
      return;
    }

    // stream
    await seedDemo(handle.db, { members: 300 });
    const slug = (await handle.db.selectFrom('posts').select('slug').where('status', '=', 'published').limit(1).executeTakeFirstOrThrow())
      .slug;
    serve(handle.url);
    await up();
    const page = async () => {
      const lat: number[] = [];
      const end = Date.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (Date.now() < end) {
            const t0 = performance.now();
            await get(`/posts/${slug}`);
            lat.push(performance.now() - t0);
          }
        }),
      );
      return lat;
    };
    for (let i = 0; i < 50; i++) await get(`/posts/${slug}`);
    const alone = await page();
    // 200 stream clients (their own sockets) and 50 facts a second committed to the feed.
    const streams: Array<import('node:http').ClientRequest> = [];
    let received = 0;
    for (let i = 0; i < 200; i++) {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/live', headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.on('data', (d: Buffer) => (received += d.toString().split('\nevent: ').length - 1));
      });
      req.end();
      streams.push(req);
    }
    await new Promise((r) => setTimeout(r, 1000));
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing) {
        await sql`insert into live_events (type, data) values ('member.created', ${JSON.stringify({ id: String(published), platform: 'instagram' })}::jsonb)`.execute(
          handle.db,
        );
        published++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const withStreams = await page();
    publishing = false;
    await publisher;
    await new Promise((r) => setTimeout(r, 1000));
    for (const s of streams) s.destroy();
    console.log(
      JSON.stringify({
        figure: 'post page p99 alone and with 200 live stream clients',
        seconds: SECONDS,
        aloneRps: Math.round(alone.length / SECONDS),
        aloneP99ms: pct(alone, 99),
        withStreamsRps: Math.round(withStreams.length / SECONDS),
        withStreamsP99ms: pct(withStreams, 99),
        p99Added: `${(((pct(withStreams, 99) - pct(alone, 99)) / pct(alone, 99)) * 100).toFixed(1)} %`,
        factsPublished: published,
        eventsDelivered: received,
        expectedDeliveries: published * 200,
        database: handle.embedded ? 'embedded' : 'external',
      }),
    );
  });
} finally {
  child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
}
