/**
 * A published post page under load: the real server (`hearth serve`, built site, embedded
 * PostgreSQL with the demo content), 10 keep-alive connections for 15 s from this process.
 * Prints requests/s and latency percentiles. Usage: npm run bench:post-page
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONNECTIONS = 10;
const SECONDS = Number(process.argv[2] ?? 15);
const PATH = '/posts/why-we-left-the-algorithm';

const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-page-'));
const port = await freePort();
const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
delete env.DATABASE_URL;
delete env.APP_SECRET;
const server = spawn(process.execPath, [join(ROOT, 'src/cli/hearth.ts'), 'serve', '--no-worker'], { cwd: ROOT, env, stdio: 'ignore' });

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
function get(): Promise<number> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: PATH, agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

try {
  for (;;) {
    try {
      if ((await get()) === 200) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  for (let i = 0; i < 500; i++) await get(); // warm-up
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await get().catch(() => 0);
        if (status !== 200) errors++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2));
  console.log(
    JSON.stringify({
      figure: 'post page under load',
      path: PATH,
      connections: CONNECTIONS,
      seconds: SECONDS,
      requests: latencies.length,
      errors,
      requestsPerSecond: Math.round(latencies.length / SECONDS),
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
    }),
  );
} finally {
  agent.destroy();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
