/**
 * Soak: mixed reader load on the real server (`hearth serve --no-worker`, built site, embedded
 * PostgreSQL with the demo content) for a while, sampling the server's RSS, then a quiet spell,
 * to see whether memory settles (bounded caches, a heap that stops growing) or climbs (a leak).
 * The mix: anonymous pages from the page cache (home, archive, posts, RSS, sitemap, join, links),
 * pages with ever new query strings (each a new cache key: the cache's byte bound and LRU at
 * work), join pages from ever new referrers, and renders that bypass the cache (a session cookie
 * naming no session). Usage: npm run bench:soak -- [minutes, default 10] [connections, default 16]
 *
 * Prints the RSS curve as it goes (a line every 30 s: RSS, requests/s) and at the end whether RSS
 * settled: the last third of the run's samples within SETTLE_MB of each other and not rising
 * (a least-squares slope over the last third under 1 MB a minute), and what a minute of quiet gave back.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MINUTES = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const SAMPLE_MS = 5_000;
const PRINT_MS = 30_000;
const QUIET_MS = 60_000;
/** RSS "settled" when the last third of the samples stays within this band and does not climb. */
const SETTLE_MB = 40;

const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-soak-'));
const port = await freePort();
const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
delete env.DATABASE_URL;
delete env.APP_SECRET;
// The server's own memoryUsage(), from a bench-only preload (bench/soak-memory.ts); SOAK_NODE_ARGS adds
// node flags to the server (e.g. "--max-semi-space-size=16"); the environment passes through (MALLOC_ARENA_MAX).
const memoryFile = join(dataDir, 'memory.jsonl');
env.SOAK_MEMORY_FILE = memoryFile;
const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
const server = spawn(
  process.execPath,
  [...nodeArgs, '--import', join(ROOT, 'bench/soak-memory.ts'), join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'],
  {
    cwd: ROOT,
    env,
    stdio: 'ignore',
  },
);
/** The server's last memoryUsage() line (MB), or undefined before the first. */
function serverMemory(): Record<string, number> | undefined {
  try {
    const last = readFileSync(memoryFile, 'utf8').trimEnd().split('\n').at(-1);
    return last ? (JSON.parse(last) as Record<string, number>) : undefined;
  } catch {
    return undefined;
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
function get(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

const rssMb = (): number => {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
};

const POSTS = ['/posts/why-we-left-the-algorithm', '/posts/dialing-in-espresso-at-home', '/posts/roast-profiles-we-never-published'];
const SHARED = ['/', '/posts', '/rss.xml', '/sitemap.xml', '/join', '/join/instagram', '/links', ...POSTS];
let n = 0;
/** One request of the mix: 70 % shared pages, 15 % new query strings, 5 % new referrers, 10 % bypassing renders. */
function next(): [string, Record<string, string>] {
  const i = n++;
  const r = i % 20;
  if (r < 14) return [SHARED[i % SHARED.length]!, {}];
  if (r < 17) return [`${POSTS[i % POSTS.length]}?utm_source=soak&utm_campaign=c${i}`, {}];
  if (r < 18) return ['/join', { referer: `https://site${i}.example/page` }];
  return [POSTS[i % POSTS.length]!, { cookie: 'hearth_member=no-such-session' }];
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

let errors = 0;
try {
  for (;;) {
    try {
      if ((await get('/')) === 200) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const samples: Array<{ s: number; rssMb: number; requests: number }> = [];
  const t0 = performance.now();
  const sample = () => samples.push({ s: Math.round((performance.now() - t0) / 1000), rssMb: rssMb(), requests: n });
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  let printed = { s: 0, requests: 0 };
  const printer = setInterval(() => {
    const last = samples.at(-1)!;
    const rps = Math.round((last.requests - printed.requests) / Math.max(1, last.s - printed.s));
    printed = last;
    console.log(JSON.stringify({ s: last.s, rssMb: last.rssMb, requestsPerSecond: rps, errors, memoryMb: serverMemory() }));
  }, PRINT_MS);
  const end = performance.now() + MINUTES * 60_000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const [path, headers] = next();
        const status = await get(path, headers).catch(() => 0);
        if (status !== 200) errors++;
      }
    }),
  );
  const loaded = samples.length;
  clearInterval(printer);
  await new Promise((r) => setTimeout(r, QUIET_MS));
  clearInterval(timer);
  sample();
  const under = samples.slice(0, loaded);
  const half = under.slice(Math.floor(under.length / 2));
  const tail = under.slice(Math.floor((under.length * 2) / 3));
  const slopeMbPerMin = slope(tail.map((x) => [x.s / 60, x.rssMb]));
  const band = Math.max(...tail.map((x) => x.rssMb)) - Math.min(...tail.map((x) => x.rssMb));
  const curve = under.filter((x) => x.s % 30 < SAMPLE_MS / 1000).map((x) => [x.s, x.rssMb]);
  console.log(
    JSON.stringify({
      figure: 'server RSS under mixed reader load, then quiet',
      minutes: MINUTES,
      connections: CONNECTIONS,
      requests: n,
      errors,
      rssStartMb: under[0]!.rssMb,
      rssMaxMb: Math.max(...under.map((s) => s.rssMb)),
      rssSecondHalfMinMb: Math.min(...half.map((s) => s.rssMb)),
      rssSecondHalfMaxMb: Math.max(...half.map((s) => s.rssMb)),
      rssAfterQuietMb: samples.at(-1)!.rssMb,
      memoryAfterQuietMb: serverMemory(),
      lastThirdBandMb: band,
      lastThirdSlopeMbPerMin: Number(slopeMbPerMin.toFixed(2)),
      settled: band <= SETTLE_MB && slopeMbPerMin < 1,
      curveEvery30s: curve,
    }),
  );
} finally {
  agent.destroy();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
