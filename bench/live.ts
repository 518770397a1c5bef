/**
 * Live figures under load (issue 20), on the real server (`hearth serve --no-worker`, built site):
 *
 *   report: a live send to 100,000 members with 150,000 earlier events, tracking endpoints driven
 *           at ~2,000 events/s (opens and clicks) while the send report is asked every 50 ms:
 *           the report's latency percentiles, the event rate reached; then, for the choice made
 *           in lib/event-writer.ts, the time of counting the same send's figures from the events.
 *   stream: the post page's p99 (10 keep-alive connections) alone, then with 200 stream clients
 *           on /api/v1/live and 50 facts/s committed to the feed; BENCH_ROUNDS pairs (default 3),
 *           each with its own baseline, and the pooled figures; also the server's event-loop delay
 *           (bench/loop-delay-probe.ts). The clients run in their own process at nice 19 (or in a
 *           worker thread with BENCH_STREAM_CLIENTS=thread, or under SCHED_IDLE with
 *           BENCH_STREAM_CLIENTS=idle; BENCH_STREAM_PIN=<cpu> pins them): see STREAM_CLIENTS below.
 *           BENCH_STREAM_RATE: facts a second (default 50; 0 measures 200 idle connected clients);
 *           BENCH_STREAM_COUNT: clients (default 200; 0 measures the facts' own cost, no stream).
 *
 * Usage: node bench/live.ts report|stream [seconds=15]   (report: BENCH_RATE events/s, default 2,000)
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
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
/**
 * How the stream clients run (BENCH_STREAM_CLIENTS): `process` (the default), a separate process at
 * the lowest priority (`nice -n 19`), or `thread`, a worker thread of this process (the earlier
 * setup). Real stream clients are staff browsers on other machines; on this 2-core machine the
 * 200 clients parsing 50 facts/s compete for the same cores as the page load generator and the
 * server, and in a thread of the generator's own process they also share its scheduling. At nice
 * 19 they take only the CPU the measured parties leave idle, so the figure is the server's cost of
 * the streams (it still writes every byte to 200 sockets), not the clients'. Every fact is still
 * counted by every client (eventsDelivered below).
 */
const STREAM_CLIENTS = (['thread', 'idle'] as const).find((v) => v === process.env.BENCH_STREAM_CLIENTS) ?? 'process';
/**
 * `idle` (BENCH_STREAM_CLIENTS=idle): the clients' process under SCHED_IDLE (`chrt --idle 0`, and
 * nice 19): it runs only on a core that nothing else wants and is preempted at once by any other
 * task's wake-up. At nice 19 alone (EEVDF, Linux ≥ 6.6) a client process that got a core keeps it
 * for its slice, and a server or load generator woken meanwhile may wait for that slice: the
 * clients' parsing then shows in the page's p99 although the server did nothing more. With `idle`
 * the figure is closer to the server's own cost (it still writes every byte to 200 sockets, and on
 * loopback the kernel's receive work for those bytes runs in the server's write).
 * BENCH_STREAM_PIN=<cpu> also pins the clients' process to that CPU (taskset).
 */
const PIN = process.env.BENCH_STREAM_PIN;
/** Facts a second committed to the feed while the streams run (BENCH_STREAM_RATE, default 50); 0: idle connected clients. */
const STREAM_RATE = Number(process.env.BENCH_STREAM_RATE ?? 50);
/** Stream clients (BENCH_STREAM_COUNT, default 200); 0: the facts are committed with no client, the cost of the facts alone. */
const STREAM_COUNT = Number(process.env.BENCH_STREAM_COUNT ?? 200);
/** Stream clients on /api/v1/live; stop() closes them and returns what they counted. */
function streamClients(n: number, token: string) {
  const body = `
    const { request } = require('node:http');
    let received = 0, duplicates = 0, open = 0;
    const reqs = [];
    if (args.n === 0) post({ ready: true });
    for (let i = 0; i < args.n; i++) {
      const req = request({ host: '127.0.0.1', port: args.port, path: '/api/v1/live', headers: { authorization: 'Bearer ' + args.token } }, (res) => {
        let last = 0, tail = '';
        res.setEncoding('utf8');
        if (++open === args.n) post({ ready: true });
        res.on('data', (d) => {
          const text = tail + d;
          const end = text.lastIndexOf('\\n\\n');
          if (end < 0) return void (tail = text);
          tail = text.slice(end + 2);
          for (const m of text.slice(0, end + 2).matchAll(/^id: (\\d+)$/gm)) {
            const id = Number(m[1]);
            if (id <= last) duplicates++; else received++;
            last = id;
          }
        });
      });
      req.on('error', () => undefined);
      req.end();
      reqs.push(req);
    }
    onStop(() => {
      for (const r of reqs) r.destroy();
      post({ received, duplicates });
    });
  `;
  const args = { n, port, token };
  type Counted = { received: number; duplicates: number };
  if (STREAM_CLIENTS === 'thread') {
    const code = `
      const { parentPort, workerData: args } = require('node:worker_threads');
      const post = (m) => parentPort.postMessage(m);
      const onStop = (f) => parentPort.on('message', f);
      ${body}`;
    const worker = new Worker(code, { eval: true, workerData: args });
    const ready = new Promise<void>((done) => worker.once('message', () => done()));
    return {
      ready,
      async stop(): Promise<Counted> {
        const counted = new Promise<Counted>((done) => worker.once('message', done));
        worker.postMessage('stop');
        const result = await counted;
        await worker.terminate();
        return result;
      },
    };
  }
  const code = `
    const args = JSON.parse(process.env.BENCH_STREAM_ARGS);
    const post = (m) => process.send(m);
    const onStop = (f) => process.on('message', () => { f(); process.disconnect(); setTimeout(() => process.exit(0), 100); });
    ${body}`;
  const niced = ['nice', '-n', '19', process.execPath, '-e', code];
  const command = [...(PIN ? ['taskset', '-c', PIN] : []), ...(STREAM_CLIENTS === 'idle' ? ['chrt', '--idle', '0'] : []), ...niced];
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, BENCH_STREAM_ARGS: JSON.stringify(args) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = new Promise<void>((done) => proc.once('message', () => done()));
  return {
    ready,
    async stop(): Promise<Counted> {
      const counted = new Promise<Counted>((done) => proc.once('message', (m) => done(m as Counted)));
      proc.send('stop');
      const result = await counted;
      await new Promise((r) => (proc.exitCode === null ? proc.once('exit', r) : r(null)));
      return result;
    },
  };
}
/**
 * The server's event-loop delay since the last call (bench/loop-delay-probe.ts, preloaded into the
 * server): how long a ready request may wait behind whatever the server's loop is busy with.
 */
async function loopDelay(): Promise<{
  p50: number;
  p99: number;
  max: number;
  utilisation?: number;
  gcCount?: number;
  gcMs?: number;
  gcMaxMs?: number;
}> {
  const file = `/tmp/hearth-loop-${child!.pid}.json`;
  rmSync(file, { force: true });
  child!.kill('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 10));
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // half written
      }
    }
  }
  throw new Error('no event-loop figures from the server');
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
  const probe = MODE === 'stream' ? ['--import', join(ROOT, 'bench', 'loop-delay-probe.ts')] : [];
  child = spawn(process.execPath, [...probe, CLI, 'serve', '--no-worker'], {
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
      await loopDelay();
      const alone = await page();
      const aloneLoop = await loopDelay();
      const aloneCpu = await cpuSince(handle.db, cpuAlone);
      // 200 stream clients (their own sockets) and 50 facts a second committed to the feed. The
      // clients run apart from the page client (STREAM_CLIENTS above): parsing 200 streams on the
      // page client's own event loop would add the client's delay to the page's latency, which is
      // not the server's cost.
      const streams = streamClients(STREAM_COUNT, token);
      await streams.ready;
      await new Promise((r) => setTimeout(r, 1000));
      let publishing = STREAM_RATE > 0;
      const publisher = (async () => {
        while (publishing) {
          await sql`insert into live_events (type, data) values ('member.created', ${JSON.stringify({ id: String(published), platform: 'instagram' })}::jsonb)`.execute(
            handle.db,
          );
          published++;
          await new Promise((r) => setTimeout(r, 1000 / STREAM_RATE));
        }
      })();
      // The streams' own cost: the server's CPU with the clients and the facts, and no page load.
      const cpuStreams = await cpuNow(handle.db);
      await loopDelay();
      await new Promise((r) => setTimeout(r, 5_000));
      const streamsLoop = await loopDelay();
      const streamsCpu = await cpuSince(handle.db, cpuStreams);
      const cpuWith = await cpuNow(handle.db);
      const withStreams = await page();
      const withLoop = await loopDelay();
      const withCpu = await cpuSince(handle.db, cpuWith);
      publishing = false;
      await publisher;
      await new Promise((r) => setTimeout(r, 1000));
      const counted = await streams.stop();
      received += counted.received;
      duplicates += counted.duplicates;
      await new Promise((r) => setTimeout(r, 500));
      for (const v of alone) allAlone.push(v);
      for (const v of withStreams) allWith.push(v);
      rounds.push({
        aloneRps: Math.round(alone.length / SECONDS),
        aloneP99ms: pct(alone, 99),
        aloneServerCpuPct: aloneCpu.serverCpuPct,
        aloneGeneratorCpuPct: aloneCpu.generatorCpuPct,
        aloneMachineBusyPct: aloneCpu.machineBusyPct,
        aloneLoopDelayP99ms: aloneLoop.p99,
        streamsOnlyServerCpuPct: streamsCpu.serverCpuPct,
        streamsOnlyMachineBusyPct: streamsCpu.machineBusyPct,
        streamsOnlyLoopDelayP99ms: streamsLoop.p99,
        streamsOnlyLoopDelayMaxMs: streamsLoop.max,
        // The server's event-loop utilisation and garbage collection (count / total ms) per window.
        loopUtilisation: `${aloneLoop.utilisation} / ${streamsLoop.utilisation} / ${withLoop.utilisation}`,
        gc: `${aloneLoop.gcCount}/${aloneLoop.gcMs} · ${streamsLoop.gcCount}/${streamsLoop.gcMs} · ${withLoop.gcCount}/${withLoop.gcMs}`,
        withStreamsRps: Math.round(withStreams.length / SECONDS),
        withStreamsP99ms: pct(withStreams, 99),
        withServerCpuPct: withCpu.serverCpuPct,
        withGeneratorCpuPct: withCpu.generatorCpuPct,
        withMachineBusyPct: withCpu.machineBusyPct,
        withLoopDelayP99ms: withLoop.p99,
        withLoopDelayMaxMs: withLoop.max,
        p99Added: `${(((pct(withStreams, 99) - pct(alone, 99)) / pct(alone, 99)) * 100).toFixed(1)} %`,
        loadAverage: withCpu.loadAverage,
      });
    }
    console.log(
      JSON.stringify({
        figure: `post page p99 alone and with ${STREAM_COUNT} live stream clients`,
        seconds: SECONDS,
        streamClients:
          (STREAM_CLIENTS === 'thread'
            ? 'worker thread of the bench process'
            : STREAM_CLIENTS === 'idle'
              ? 'separate process, SCHED_IDLE and nice -n 19'
              : 'separate process, nice -n 19') + (PIN ? `, pinned to CPU ${PIN}` : ''),
        factsPerSecond: STREAM_RATE,
        rounds,
        aloneP99ms: pct(allAlone, 99),
        withStreamsP99ms: pct(allWith, 99),
        p99Added: `${(((pct(allWith, 99) - pct(allAlone, 99)) / pct(allAlone, 99)) * 100).toFixed(1)} %`,
        factsPublished: published,
        eventsDelivered: received,
        repeatedOrOutOfOrder: duplicates,
        expectedDeliveries: published * STREAM_COUNT,
        database: handle.embedded ? 'embedded' : 'external',
      }),
    );
  });
} finally {
  child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
}
