import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log } from './lib/log.ts';
import { handleTracking, isTrackingPath } from './tracking-routes.ts';

/** The project root (this file lives in src/). */
export const ROOT = resolve(import.meta.dirname, '..');
const ENTRY = join(ROOT, 'dist', 'server', 'entry.mjs');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** True when dist/ is missing or older than anything it is built from. */
export function buildIsStale(): boolean {
  if (!existsSync(ENTRY)) return true;
  const built = statSync(ENTRY).mtimeMs;
  const sources = ['src', 'db', 'emails', 'public', 'astro.config.mjs', 'package.json'].map((p) => join(ROOT, p)).filter(existsSync);
  return sources.some((p) => newestMtime(p) > built);
}

/** `npm start` builds if needed: a fresh clone has no dist/ yet. */
export function buildIfNeeded(): void {
  if (!buildIsStale()) return;
  log.info('building the site (first start or sources changed)');
  const started = Date.now();
  // Run Astro's CLI on this very Node (the pinned one), whatever `node` is first on PATH.
  const astro = join(ROOT, 'node_modules', 'astro', 'bin', 'astro.mjs');
  const result = spawnSync(process.execPath, [astro, 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error(`astro build failed (exit ${result.status})`);
  }
  log.info('site built', { ms: Date.now() - started });
}

export interface WebServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the built Astro app (static assets and pages) behind one request log line each:
 * method, path without its query string (queries carry tokens), status and duration.
 */
export async function startWebServer(options: { host: string; port: number }): Promise<WebServer> {
  process.env.ASTRO_NODE_AUTOSTART = 'disabled';
  process.env.ASTRO_NODE_LOGGING = 'disabled';
  const entry = (await import(pathToFileURL(ENTRY).href)) as {
    handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  };
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const tracking = isTrackingPath(req.url);
    res.on('finish', () => {
      log.info('request', {
        method: req.method,
        // A tracking token names a delivery: it is not logged.
        path: tracking ? (req.url ?? '').slice(0, 4) + '…' : (req.url ?? '/').split('?')[0],
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      });
    });
    if (tracking) void handleTracking(req, res);
    else entry.handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${shownHost}:${port}`,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      return closing;
    },
  };
}
