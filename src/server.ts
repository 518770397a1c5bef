import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveClientAddress, type TrustProxy } from './lib/client-address.ts';
import { noteActivity } from './lib/heap.ts';
import { log } from './lib/log.ts';
import { runWithRequestContext } from './lib/request-context.ts';
import { bodyLimitFor } from './web/body-limits.ts';
import { handleTracking, isTrackingPath } from './tracking-routes.ts';
import { closeLiveClients, handleLive, isLivePath } from './live-routes.ts';
import { stopLiveHub } from './lib/live-hub.ts';
import { answerFromPageCache, stopPageCache } from './web/page-cache.ts';

/** The project root (this file lives in src/). */
export const ROOT = resolve(import.meta.dirname, '..');
const ENTRY = join(ROOT, 'dist', 'server', 'entry.mjs');
const CLIENT = join(ROOT, 'dist', 'client');

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
 * Answers 413 and reads no further: the request is paused (so TCP pushes back on the client),
 * the connection closes after the answer, and whatever the app writes afterwards is dropped.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number, read: number | undefined): void {
  // Counted as consumed (read(0) takes at most the stream's small buffer), so Node does not
  // drain the rest of the body after the answer; paused, so TCP pushes back on the client.
  req.read(0);
  req.pause();
  lingerBeforeClose(req.socket);
  log.warn('request body too large', { path: (req.url ?? '/').split('?')[0], limit, read });
  if (res.headersSent) return;
  const api = (req.url ?? '').startsWith('/api/');
  const kib = Math.max(1, Math.floor(limit / 1024));
  const message = `The request body is larger than this address accepts (${kib} KiB).`;
  res.writeHead(413, {
    'content-type': api ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(api ? JSON.stringify({ error: { code: 'body_too_large', message } }) : message);
  // The app may still be rendering its answer to the cut-off body: it has been answered.
  res.writeHead = () => res;
  res.write = () => true;
  res.end = () => res;
}

/**
 * Closing a socket that still has unread data makes the kernel send a reset, which can reach a
 * client still uploading before it has read our 413. Like Go's server, half-close first (the
 * answer, then FIN) and close for good a moment later; meanwhile nothing more is read.
 */
function lingerBeforeClose(socket: Socket): void {
  Object.assign(socket, {
    destroySoon() {
      socket.end();
      setTimeout(() => socket.destroy(), 2_000).unref();
    },
  });
}

/**
 * The body as the Astro adapter reads it (it takes `req.body` when set): counted chunk by chunk,
 * so a chunked body is bounded like a declared one. Past the limit the reader fails, which the
 * page sees as an unreadable body, and the client gets the 413.
 */
function boundedBody(req: IncomingMessage, res: ServerResponse, limit: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      let read = 0;
      // destroyOnReturn: false keeps the socket open long enough to carry the 413.
      for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        read += chunk.byteLength;
        if (read > limit) {
          refuseTooLarge(req, res, limit, read);
          throw new Error(`request body larger than ${limit} bytes`);
        }
        yield chunk;
      }
    },
  };
}

/**
 * The built static files (dist/client: Astro's hashed `/_astro/` assets, and anything in public/),
 * listed once at start: the build does not change under a running server. The adapter's own
 * static handler asked the disk (`lstat` and `stat`) for every request, pages included, before
 * rendering (~4 % of a signed-in page's CPU); here a page never touches the disk, and a file is
 * answered from memory (those up to 1 MiB, 32 MiB in all; a larger one is streamed from disk).
 */
interface Asset {
  path: string;
  size: number;
  body: Buffer | undefined;
  headers: Record<string, string>;
}

const ASSET_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};
const ASSET_IN_MEMORY_MAX = 1024 * 1024;
const ASSETS_IN_MEMORY_TOTAL = 32 * 1024 * 1024;

export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  let kept = 0;
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      // Dot files are not served (as the adapter's handler did), .well-known/ aside.
      if (entry.name.startsWith('.') && !(entry.name === '.well-known' && at === dir)) continue;
      if (entry.isDirectory()) walk(path);
      if (!entry.isFile()) continue;
      const st = statSync(path);
      const url = '/' + relative(dir, path).split(sep).join('/');
      const inMemory = st.size <= ASSET_IN_MEMORY_MAX && kept + st.size <= ASSETS_IN_MEMORY_TOTAL;
      const body = inMemory ? readFileSync(path) : undefined;
      if (body) kept += body.byteLength;
      const etag = `"${createHash('sha1')
        .update(body ?? `${st.size}:${st.mtimeMs}`)
        .digest('base64url')
        .slice(0, 22)}"`;
      assets.set(url, {
        path,
        size: st.size,
        body,
        headers: {
          'content-type': ASSET_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
          'content-length': String(st.size),
          etag,
          'last-modified': st.mtime.toUTCString(),
          // Astro's assets are named by their content: a browser keeps them for good.
          'cache-control': url.startsWith('/_astro/') ? 'public, max-age=31536000, immutable' : 'public, max-age=0',
        },
      });
    }
  };
  walk(dir);
  return assets;
}

/** Answers a static file: 304 to its ETag, HEAD without a body. */
function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  if (req.headers['if-none-match'] === asset.headers.etag) {
    const { etag, 'cache-control': cacheControl, 'last-modified': lastModified } = asset.headers;
    res.writeHead(304, { etag, 'cache-control': cacheControl!, 'last-modified': lastModified! });
    res.end();
    return;
  }
  res.writeHead(200, asset.headers);
  if (req.method === 'HEAD') return void res.end();
  if (asset.body) return void res.end(asset.body);
  createReadStream(asset.path)
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * Serves the built Astro app (static assets and pages) behind one request log line each:
 * method, path without its query string (queries carry tokens), status and duration. Before the
 * app sees a request, the client's address is resolved under TRUST_PROXY and the body is bounded
 * by its route's limit (web/body-limits.ts).
 */
export async function startWebServer(options: { host: string; port: number; trustProxy?: TrustProxy }): Promise<WebServer> {
  process.env.ASTRO_NODE_AUTOSTART = 'disabled';
  process.env.ASTRO_NODE_LOGGING = 'disabled';
  const trustProxy = options.trustProxy ?? { kind: 'off' };
  // The adapter runs in middleware mode (astro.config.mjs): its handler renders and nothing else.
  const entry = (await import(pathToFileURL(ENTRY).href)) as {
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  };
  const assets = loadAssets(CLIENT);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    noteActivity();
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
    if (tracking) return void handleTracking(req, res);
    if (isLivePath(req.url)) return void handleLive(req, res);
    // An anonymous reader's page already rendered: straight from memory, the app never sees it.
    if (answerFromPageCache(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(path) : undefined;
    if (asset) return serveAsset(req, res, asset);
    // As the adapter's standalone handler did: an address that cannot be decoded is refused.
    try {
      decodeURI(req.url ?? '/');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('Bad request.');
    }
    const limit = bodyLimitFor(path);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return refuseTooLarge(req, res, limit, undefined);
    (req as IncomingMessage & { body?: unknown }).body = boundedBody(req, res, limit);
    const client = resolveClientAddress({ peer: req.socket.remoteAddress, headers: req.headers }, trustProxy);
    runWithRequestContext({ clientAddress: client.address, forwardedHttps: client.proto === 'https' }, () => void entry.handler(req, res));
  };
  const server = createServer(onRequest);
  // `Expect: 100-continue` (curl sends it for large bodies): a body over the limit is refused
  // before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers['content-length'] ?? 0) <= bodyLimitFor((req.url ?? '/').split('?')[0]!)) res.writeContinue();
    onRequest(req, res);
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
        closeLiveClients();
        void stopLiveHub();
        void stopPageCache();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      return closing;
    },
  };
}
