/**
 * A published post page under load, three ways in one run, the systems alternating round by
 * round so that a busy machine weighs on each alike:
 * - `rendered`: Hearth rendering the page for each request (the page cache bypassed by a session
 *   cookie that names no session: what a signed-in reader costs, minus the member's queries);
 * - `cached`: Hearth answering anonymous readers from its page cache (src/web/page-cache.ts);
 * - `bare`: a bare Node http server (its own process) answering the same bytes and headers from
 *   memory — the ceiling for this machine and this client.
 * The real server (`hearth serve --no-worker`, built site, embedded PostgreSQL with the demo
 * content); keep-alive connections from this process. Prints each system's requests/s and
 * latency percentiles and the cached/bare ratio.
 * Usage: npm run bench:post-page -- [seconds per system, default 15] [connections, default 64]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.argv[2] ?? 15);
const CONNECTIONS = Number(process.argv[3] ?? 64);
const ROUNDS = 3;
const PATH = '/posts/why-we-left-the-algorithm';
type System = 'rendered' | 'cached' | 'bare';

const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-page-'));
const port = await freePort();
const barePort = await freePort();
const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
delete env.DATABASE_URL;
delete env.APP_SECRET;
const server = spawn(process.execPath, [join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'], { cwd: ROOT, env, stdio: 'ignore' });
let bare: ChildProcess | undefined;

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
interface Answer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}
function get(target: number, headers: Record<string, string> = {}, keep = false): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: target, path: PATH, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => keep && chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

const systems: Record<System, { port: number; headers: Record<string, string> }> = {
  rendered: { port, headers: { cookie: 'hearth_member=no-such-session' } },
  cached: { port, headers: {} },
  bare: { port: barePort, headers: {} },
};

async function load(system: System, seconds: number): Promise<{ latencies: number[]; errors: number }> {
  const { port: target, headers } = systems[system];
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await get(target, headers).then(
          (a) => a.status,
          () => 0,
        );
        if (status !== 200) errors++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, errors };
}

try {
  for (;;) {
    try {
      if ((await get(port)).status === 200) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The page as the cache answers it: the bare server gets these very bytes and headers.
  let page: Answer;
  for (;;) {
    page = await get(port, {}, true);
    if (page.headers['x-hearth-cache'] === 'hit') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const headers = Object.fromEntries(Object.entries(page.headers).filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));
  writeFileSync(join(dataDir, 'page.bin'), page.body);
  writeFileSync(join(dataDir, 'headers.json'), JSON.stringify(headers));
  const bareCode = `
    const { readFileSync } = require('node:fs');
    const body = readFileSync(${JSON.stringify(join(dataDir, 'page.bin'))});
    const headers = JSON.parse(readFileSync(${JSON.stringify(join(dataDir, 'headers.json'))}, 'utf8'));
    const s = require('node:http').createServer((req, res) => { res.writeHead(200, headers); res.end(body); });
    s.keepAliveTimeout = 65000;
    s.listen(${barePort}, '127.0.0.1');`;
  bare = spawn(process.execPath, ['-e', bareCode], { stdio: 'ignore' });
  for (;;) {
    try {
      if ((await get(barePort)).status === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const system of ['rendered', 'cached', 'bare'] as const)
    for (let i = 0; i < 300; i++) await get(systems[system].port, systems[system].headers); // warm-up

  const results: Record<System, { latencies: number[]; errors: number }> = {
    rendered: { latencies: [], errors: 0 },
    cached: { latencies: [], errors: 0 },
    bare: { latencies: [], errors: 0 },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const system of ['cached', 'bare', 'rendered'] as const) {
      const r = await load(system, SECONDS / ROUNDS);
      for (const v of r.latencies) results[system].latencies.push(v);
      results[system].errors += r.errors;
    }
  }
  const figures = Object.fromEntries(
    (Object.keys(results) as System[]).map((system) => {
      const { latencies, errors } = results[system];
      latencies.sort((x, y) => x - y);
      const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2));
      return [
        system,
        {
          requests: latencies.length,
          errors,
          requestsPerSecond: Math.round(latencies.length / SECONDS),
          p50Ms: pct(0.5),
          p99Ms: pct(0.99),
        },
      ];
    }),
  ) as unknown as Record<System, { requestsPerSecond: number }>;
  console.log(
    JSON.stringify({
      figure: 'post page under load: rendered, from the page cache, and a bare server with the same bytes',
      path: PATH,
      bytes: page.body.byteLength,
      connections: CONNECTIONS,
      secondsPerSystem: SECONDS,
      rounds: ROUNDS,
      ...figures,
      cachedToBare: Number((figures.cached.requestsPerSecond / figures.bare.requestsPerSecond).toFixed(3)),
      cachedToRendered: Number((figures.cached.requestsPerSecond / figures.rendered.requestsPerSecond).toFixed(1)),
    }),
  );
} finally {
  agent.destroy();
  bare?.kill('SIGTERM');
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
