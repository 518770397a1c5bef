import type { IncomingMessage, ServerResponse } from 'node:http';
import { staffFromApiToken } from './domain/staff/api-tokens.ts';
import { visibleData } from './domain/live/events.ts';
import { can } from './domain/staff/permissions.ts';
import { SESSION_COOKIE, staffFromSession, type SessionStaffUser } from './domain/staff/sessions.ts';
import { liveHubFor, rowsAfter, type LiveRow } from './lib/live-hub.ts';
import { errorFields, log } from './lib/log.ts';
import { getRuntime } from './lib/runtime.ts';

/**
 * GET /api/v1/live: the staff live feed as server-sent events (README "Live"). Served by Hearth's
 * own HTTP server before the Astro app (like the tracking routes): a stream is a long-lived
 * response that needs the socket's backpressure, not the page machinery.
 *
 * - Who: a staff API token (`Authorization: Bearer`) or the staff session cookie; anything else 401.
 * - What: each fact as `id: <seq>`, `event: <type>`, `data: <json>`; the data of a role that may
 *   not read members (a moderator) carries no email address.
 * - Resume: `Last-Event-ID` (or `?last_event_id=`) replays what came after it, from the table,
 *   then joins the live fan-out without a gap or a repeat; an id that is not a number, or is
 *   ahead of the feed, streams from now.
 * - A slow or dead client never slows the server: each client's unsent bytes are bounded; past
 *   the bound it is cut (it resumes with Last-Event-ID). Heartbeats every 15 s.
 */
const PATH = /^\/api\/v1\/live\/?$/;
/** Unsent bytes a client may hold before it is cut. */
export const CLIENT_BUFFER_BYTES = 256 * 1024;
const HEARTBEAT_MS = 15_000;
const BACKLOG_PAGE = 1_000;

export function isLivePath(url: string | undefined): boolean {
  return url !== undefined && PATH.test(url.split('?')[0]!);
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(JSON.stringify({ error: { code, message } }));
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

async function staffOf(req: IncomingMessage): Promise<SessionStaffUser | undefined> {
  const { db } = getRuntime();
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (bearer) return staffFromApiToken(db, bearer[1]!);
  const session = cookie(req.headers.cookie, SESSION_COOKIE);
  return session ? (await staffFromSession(db, session))?.staff : undefined;
}

/**
 * What this role may see of a fact: no email address without members:read. The hub hands the same
 * rows to every client, so each fact is serialised once per kind of viewer, not once per client,
 * and a tick's facts are joined once into the one string every client of that kind is written.
 */
type Frames = { emails?: string; plain?: string };
const frames = new WeakMap<LiveRow, Frames>();
const joined = new WeakMap<LiveRow[], Frames>();
export function eventText(row: LiveRow, seesEmails: boolean): string {
  let made = frames.get(row);
  if (!made) frames.set(row, (made = {}));
  return (made[seesEmails ? 'emails' : 'plain'] ??= frame(row, seesEmails));
}

/** The frames of a tick's rows, end to end (cached on the array the hub hands every client). */
function ticksText(rows: LiveRow[], seesEmails: boolean): string {
  let made = joined.get(rows);
  if (!made) joined.set(rows, (made = {}));
  return (made[seesEmails ? 'emails' : 'plain'] ??= rows.map((row) => eventText(row, seesEmails)).join(''));
}

function frame(row: LiveRow, seesEmails: boolean): string {
  const data = visibleData(row.data, seesEmails);
  return `id: ${row.seq}\nevent: ${row.type}\ndata: ${JSON.stringify({ ...data, at: row.at })}\n\n`;
}

/** A number the feed has reached, or undefined ("from now"). */
function resumeFrom(raw: string | undefined, latest: string): string | undefined {
  if (raw === undefined || !/^\d{1,18}$/.test(raw.trim())) return undefined;
  const id = BigInt(raw.trim());
  return id <= BigInt(latest) ? id.toString() : undefined;
}

const clients = new Set<{ res: ServerResponse }>();
let heartbeat: NodeJS.Timeout | undefined;

export async function handleLive(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET');
    return refuse(res, 405, 'method_not_allowed', 'Use GET.');
  }
  try {
    const staff = await staffOf(req);
    if (!staff)
      return refuse(res, 401, 'unauthorized', 'Send a staff API token as "Authorization: Bearer <token>", or sign in to the admin.');
    if (!can(staff.role, 'dashboard:view')) return refuse(res, 403, 'forbidden', `The ${staff.role} role may not do this.`);
    const runtime = getRuntime();
    if (!runtime.pool) return refuse(res, 503, 'unavailable', 'The live feed is not available in this process.');
    const hub = liveHubFor(runtime.db, runtime.pool);
    await hub.start();
    const seesEmails = can(staff.role, 'members:read');
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('last_event_id') ?? undefined;
    const header = req.headers['last-event-id'];
    const from = resumeFrom(typeof header === 'string' ? header : query, hub.latest);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return void res.end();
    res.write('retry: 2000\n\n');

    const client = { res };
    let cursor = from ?? hub.latest;
    let catchingUp = from !== undefined;
    let pending: LiveRow[] = [];
    let closed = false;
    const cut = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clients.delete(client);
      res.destroy();
    };
    /** One write per call: the rows after the client's cursor (usually all: the tick's shared string). */
    const send = (rows: LiveRow[]) => {
      if (rows.length === 0) return;
      const after = BigInt(cursor);
      let text: string;
      if (BigInt(rows[0]!.seq) > after) text = ticksText(rows, seesEmails);
      else {
        const fresh = rows.filter((row) => BigInt(row.seq) > after);
        if (fresh.length === 0) return;
        text = fresh.map((row) => eventText(row, seesEmails)).join('');
      }
      cursor = rows.at(-1)!.seq;
      res.write(text);
      // Bounded: a client that does not read (or reads too slowly) is cut, never waited for.
      if (res.writableLength > CLIENT_BUFFER_BYTES) {
        log.warn('live client too slow; cut', { buffered: res.writableLength });
        cut();
      }
    };
    const unsubscribe = hub.subscribe((rows) => {
      if (closed) return;
      if (catchingUp) {
        pending.push(...rows);
        if (pending.length > 10 * BACKLOG_PAGE) cut();
        return;
      }
      send(rows);
    });
    clients.add(client);
    req.on('close', cut);
    res.on('error', cut);
    heartbeat ??= setInterval(() => {
      for (const c of clients) c.res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS).unref();

    // Resume: everything after the client's id, from the table, then what arrived meanwhile.
    while (catchingUp && !closed) {
      const rows = await rowsAfter(runtime.db, cursor, BACKLOG_PAGE);
      send(rows);
      if (rows.length < BACKLOG_PAGE) {
        catchingUp = false;
        const waiting = pending;
        pending = [];
        send(waiting);
      }
    }
  } catch (err) {
    log.error('live stream failed', errorFields(err));
    if (!res.headersSent) refuse(res, 503, 'unavailable', 'Try again in a moment.');
    else res.destroy();
  }
}

/** At shutdown: every stream ends (clients reconnect elsewhere and resume). */
export function closeLiveClients(): void {
  for (const c of clients) c.res.destroy();
  clients.clear();
}
