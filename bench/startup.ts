/**
 * `npm start` on the embedded default: time from launch to a healthy /healthz, for the first
 * start (initdb, migrations, demo seed) and a second start on the same data.
 * Usage: npm run bench:startup    (the site must be built: npm run build)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/lib/embedded-postgres.ts';

const ROOT = resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-start-'));

async function startOnce(): Promise<number> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.APP_SECRET;
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'serve'], { cwd: ROOT, env, stdio: 'ignore' });
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const ms = performance.now() - started;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return ms;
}

try {
  const first = await startOnce();
  const second = await startOnce();
  const third = await startOnce();
  console.log(
    JSON.stringify({
      figure: 'embedded start to healthy',
      firstStartMs: Math.round(first),
      secondStartMs: Math.round(second),
      thirdStartMs: Math.round(third),
    }),
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
