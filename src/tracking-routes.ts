import type { IncomingMessage, ServerResponse } from 'node:http';
import { recordClick, recordOpen } from './domain/tracking/record.ts';
import { eventWriterFor } from './lib/event-writer.ts';
import { errorFields, log } from './lib/log.ts';
import { getRuntime } from './lib/runtime.ts';

/**
 * GET /t/o/:token (open pixel) and GET /t/c/:token (click redirect): routes, like src/pages, but
 * served by Hearth's own HTTP server (server.ts) before the Astro app: they are the hottest paths (every open and click of every
 * send) and need no page machinery. A bad token or an unknown link is a plain 404, never a
 * redirect elsewhere. The answer waits for the event's commit (lib/event-writer.ts).
 */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const TOKEN = /^\/t\/(o|c)\/([A-Za-z0-9_.-]{1,200})$/;

export function isTrackingPath(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/t/');
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(text);
}

export async function handleTracking(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0]!;
  const match = TOKEN.exec(path);
  if (!match) return plain(res, 404, 'Not found.');
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method not allowed.', { allow: 'GET, HEAD' });
  const runtime = getRuntime();
  const writer = eventWriterFor(runtime.db);
  const request = { method: req.method, userAgent: req.headers['user-agent'] };
  const secret = runtime.config.appSecret;
  try {
    if (match[1] === 'o') {
      if (!(await recordOpen(writer, secret, match[2]!, request))) return plain(res, 404, 'Not found.');
      res.writeHead(200, {
        'content-type': 'image/gif',
        'content-length': String(PIXEL.length),
        'cache-control': 'no-store, no-cache, must-revalidate, private',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : PIXEL);
      return;
    }
    const url = await recordClick(runtime.db, writer, secret, match[2]!, request);
    if (!url) return plain(res, 404, 'Not found.');
    res.writeHead(302, { location: url, 'cache-control': 'no-store, private', 'referrer-policy': 'no-referrer', 'content-length': '0' });
    res.end();
  } catch (err) {
    log.error('tracking request failed', errorFields(err));
    if (!res.headersSent) plain(res, 503, 'Try again in a moment.', { 'retry-after': '5' });
  }
}
