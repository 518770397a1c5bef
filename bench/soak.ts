/**
 * Soak: mixed reader load on the real server (`hearth serve --no-worker`, built site, embedded
 * PostgreSQL with the demo content) for a while, sampling the server's RSS, then a quiet spell,
 * to see whether memory settles (bounded caches, a heap that stops growing) or climbs (a leak).
 * The mix: anonymous pages from the page cache (home, archive, posts, RSS, sitemap, join, links),
 * pages with ever new query strings (each a new cache key: the cache's byte bound and LRU at
 * work), join pages from ever new referrers, and renders that bypass the cache (a session cookie
 * naming no session). Usage: npm run bench:soak -- [minutes, default 10] [connections, default 16]
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
const QUIET_MS = 60_000;

const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-soak-'));
const port = await freePort();
const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
delete env.DATABASE_URL;
delete env.APP_SECRET;
const server = spawn(process.execPath, [join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'], { cwd: ROOT, env, stdio: 'ignore' });

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
  let errors = 0;
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
  await new Promise((r) => setTimeout(r, QUIET_MS));
  clearInterval(timer);
  sample();
  const under = samples.slice(0, loaded);
  const half = under.slice(Math.floor(under.length / 2));
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
      samples,
    }),
  );
} finally {
  agent.destroy();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
