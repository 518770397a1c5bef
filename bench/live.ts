/**
 * Live figures under load (issue 20), on the real server (`hearth serve --no-worker`, built site):
 *
 *   report: a live send to 100,000 members with 150,000 earlier events, tracking endpoints driven
 *           at ~2,000 events/s (opens and clicks) while the send report is asked every 50 ms:
 *           the report's latency percentiles, the event rate reached; then, for the choice made
 *           in lib/event-writer.ts, the time of counting the same send's figures from the events.
 *   stream: the post page's p99 (10 keep-alive connections) alone, then with 200 stream clients
 *           on /api/v1/live and 50 facts/s committed to the feed; BENCH_ROUNDS pairs (default 3),
 *           each with its own baseline, and the pooled figures.
 *
 * Usage: node bench/live.ts report|stream [seconds=15]   (report: BENCH_RATE events/s, default 2,000)
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
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
/** report: tracking events a second to drive (open loop). */
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const MAX_IN_FLIGHT = 400;
/** stream: alone/with-streams pairs to run. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const port = await freePort();
let child: ReturnType<typeof spawn> | undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** The tracking load's own sockets (as many browsers), so the report's asks never queue behind them. */
const trackingAgent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });

function get(path: string, headers: Record<string, string> = {}, via = agent): Promise<number> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent: via, headers: { 'user-agent': BROWSER, ...headers } }, (res) => {
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
/**
 * Where the CPU went during a run (both cores, 100 % = one core): the server process, this load
 * generator, and the whole machine (PostgreSQL and everyone else's work included), from /proc.
 */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
function processTicks(pid: number | undefined): number {
  if (!pid) return 0;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}
/** PostgreSQL's backends serving the bench database (same machine), by pid. */
async function backendTicks(db: Kysely<Database>): Promise<Map<number, number>> {
  const rows = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db);
  const ticks = new Map<number, number>();
  for (const r of rows.rows) {
    try {
      ticks.set(r.pid, processTicks(r.pid));
    } catch {
      // not on this machine, or gone
    }
  }
  return ticks;
}
async function cpuNow(db: Kysely<Database>) {
  return {
    at: performance.now(),
    machine: machineTicks(),
    server: processTicks(child?.pid),
    self: process.cpuUsage(),
    backends: await backendTicks(db),
  };
}
async function cpuSince(db: Kysely<Database>, from: Awaited<ReturnType<typeof cpuNow>>) {
  const seconds = (performance.now() - from.at) / 1000;
  const m = machineTicks();
  const self = process.cpuUsage(from.self);
  const hz = 100; // USER_HZ
  let pg = 0;
  for (const [pid, ticks] of await backendTicks(db)) pg += ticks - (from.backends.get(pid) ?? 0);
  return {
    serverCpuPct: Math.round(((processTicks(child?.pid) - from.server) / hz / seconds) * 100),
    postgresCpuPct: Math.round((pg / hz / seconds) * 100),
    generatorCpuPct: Math.round(((self.user + self.system) / 1e6 / seconds) * 100),
    machineBusyPct: Math.round(((m.busy - from.machine.busy) / (m.total - from.machine.total)) * 100 * cpus().length),
    loadAverage: loadavg()[0]!.toFixed(1),
  };
}

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
      const cpu0 = await cpuNow(handle.db);
      const end = Date.now() + SECONDS * 1000;
      const reports: number[] = [];
      // Tracking at RATE events/s, open loop: requests are started on a 5 ms clock whatever the
      // answers' latency (a closed loop of paced connections measures the latency, not the rate:
      // 40 connections at 20 ms each reached 1,280/s once an answer took 31 ms). In flight at most
      // MAX_IN_FLIGHT; a tick that finds them all busy skips its requests and counts them as missed.
      const tracked = { ok: 0, failed: 0, missed: 0, inFlight: 0, latencies: [] as number[] };
      let next = 0;
      const started = performance.now();
      let issued = 0;
      const tracking = new Promise<void>((done) => {
        const tick = setInterval(() => {
          if (Date.now() >= end) {
            clearInterval(tick);
            const drain = setInterval(() => tracked.inFlight === 0 && (clearInterval(drain), done()), 5);
            return;
          }
          const due = Math.floor(((performance.now() - started) / 1000) * RATE) - issued;
          for (let i = 0; i < due; i++) {
            issued++;
            if (tracked.inFlight >= MAX_IN_FLIGHT) {
              tracked.missed++;
              continue;
            }
            tracked.inFlight++;
            const t0 = performance.now();
            get(paths[next++ % paths.length]!, {}, trackingAgent).then(
              (status) => {
                tracked.inFlight--;
                tracked.latencies.push(performance.now() - t0);
                if (status === 200 || status === 302) tracked.ok++;
                else tracked.failed++;
              },
              () => {
                tracked.inFlight--;
                tracked.failed++;
              },
            );
          }
        }, 5);
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
      await Promise.all([tracking, asking]);
      const cpu = await cpuSince(handle.db, cpu0);
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
          targetEventsPerSecond: RATE,
          trackingEventsPerSecond: Math.round(tracked.ok / SECONDS),
          trackingP50ms: pct(tracked.latencies, 50),
          trackingP99ms: pct(tracked.latencies, 99),
          trackingFailed: tracked.failed,
          trackingMissed: tracked.missed,
          ...cpu,
          // CPU per answered event: the server process and its PostgreSQL backends (both cores' worth).
          cpuMsPerEvent: Number(((((cpu.serverCpuPct + cpu.postgresCpuPct) / 100) * 1000) / Math.max(1, tracked.ok / SECONDS)).toFixed(3)),
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
    // Alone, then with the streams, ROUNDS times over: on a shared machine the load drifts, so each
    // figure with streams has its own baseline measured just before it.
    const rounds: Array<Record<string, number | string>> = [];
    const allAlone: number[] = [];
    const allWith: number[] = [];
    let published = 0;
    let received = 0;
    let duplicates = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const cpuAlone = await cpuNow(handle.db);
      const alone = await page();
      const aloneCpu = await cpuSince(handle.db, cpuAlone);
      // 200 stream clients (their own sockets) and 50 facts a second committed to the feed.
      const streams: Array<import('node:http').ClientRequest> = [];
      for (let i = 0; i < 200; i++) {
        const req = request({ host: '127.0.0.1', port, path: '/api/v1/live', headers: { authorization: `Bearer ${token}` } }, (res) => {
          let last = 0;
          let tail = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            const text = tail + d;
            const end = text.lastIndexOf('\n\n');
            if (end < 0) return void (tail = text);
            tail = text.slice(end + 2);
            for (const m of text.slice(0, end + 2).matchAll(/^id: (\d+)$/gm)) {
              const id = Number(m[1]);
              if (id <= last) duplicates++;
              else received++;
              last = id;
            }
          });
        });
        req.end();
        streams.push(req);
      }
      await new Promise((r) => setTimeout(r, 1000));
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await sql`insert into live_events (type, data) values ('member.created', ${JSON.stringify({ id: String(published), platform: 'instagram' })}::jsonb)`.execute(
            handle.db,
          );
          published++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      // The streams' own cost: the server's CPU with the clients and the facts, and no page load.
      const cpuStreams = await cpuNow(handle.db);
      await new Promise((r) => setTimeout(r, 5_000));
      const streamsCpu = await cpuSince(handle.db, cpuStreams);
      const cpuWith = await cpuNow(handle.db);
      const withStreams = await page();
      const withCpu = await cpuSince(handle.db, cpuWith);
      publishing = false;
      await publisher;
      await new Promise((r) => setTimeout(r, 1000));
      for (const st of streams) st.destroy();
      await new Promise((r) => setTimeout(r, 500));
      allAlone.push(...alone);
      allWith.push(...withStreams);
      rounds.push({
        aloneRps: Math.round(alone.length / SECONDS),
        aloneP99ms: pct(alone, 99),
        aloneServerCpuPct: aloneCpu.serverCpuPct,
        streamsOnlyServerCpuPct: streamsCpu.serverCpuPct,
        withStreamsRps: Math.round(withStreams.length / SECONDS),
        withStreamsP99ms: pct(withStreams, 99),
        withServerCpuPct: withCpu.serverCpuPct,
        p99Added: `${(((pct(withStreams, 99) - pct(alone, 99)) / pct(alone, 99)) * 100).toFixed(1)} %`,
        loadAverage: withCpu.loadAverage,
      });
    }
    console.log(
      JSON.stringify({
        figure: 'post page p99 alone and with 200 live stream clients',
        seconds: SECONDS,
        rounds,
        aloneP99ms: pct(allAlone, 99),
        withStreamsP99ms: pct(allWith, 99),
        p99Added: `${(((pct(allWith, 99) - pct(allAlone, 99)) / pct(allAlone, 99)) * 100).toFixed(1)} %`,
        factsPublished: published,
        eventsDelivered: received,
        repeatedOrOutOfOrder: duplicates,
        expectedDeliveries: published * 200,
        database: handle.embedded ? 'embedded' : 'external',
      }),
    );
  });
} finally {
  child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
}
