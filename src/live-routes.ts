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

/** Checked for every request: a prefix test first, so a page request costs one comparison. */
export function isLivePath(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/api/v1/live') && PATH.test(url.split('?')[0]!);
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
 * and a tick's facts are joined, encoded and framed once into the Buffers every client of that kind
 * is written: each already an HTTP/1.1 chunk (length line, bytes, CRLF), written straight to the
 * client's socket. `res.write` framed the same bytes again for every client (a length string, four
 * buffered pieces, a cork and a nextTick uncork per client and tick; bench/live-fanout.ts).
 */
type Frames = { emails?: string; plain?: string };
const frames = new WeakMap<LiveRow, Frames>();
const writesOfTick = new WeakMap<LiveRow[], Map<string, Buffer[]>>();
/**
 * The most bytes of facts one socket write carries. A tick (up to a page of 1,000 facts of any
 * size) or a resume's page beyond it goes out in several writes, in order, each ending at a fact's
 * end where one fits: one write never copies megabytes into the kernel in one go, and a client's
 * bound (CLIENT_BUFFER_BYTES) is judged between writes of a known size.
 */
export const WRITE_BYTES = 64 * 1024;
const FRAME_END = Buffer.from('\n\n');
const CRLF = Buffer.from('\r\n');
export function eventText(row: LiveRow, seesEmails: boolean): string {
  let made = frames.get(row);
  if (!made) frames.set(row, (made = {}));
  return (made[seesEmails ? 'emails' : 'plain'] ??= frame(row, seesEmails));
}

/**
 * Cuts a run of frames into pieces of at most `max` bytes, each ending at a frame's end (a blank
 * line; a fact's data is one JSON line, so a blank line is only ever a frame's end) where one fits
 * in the bound; a single frame larger than the bound is cut inside (the stream is bytes: a client
 * joins them). The pieces share the input's memory and, end to end, are the input.
 */
export function cutAtFrames(bytes: Buffer, max: number): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  while (bytes.length - start > max) {
    const end = bytes.lastIndexOf(FRAME_END, start + max - FRAME_END.length); // the last frame end in the bound
    const stop = end >= start ? end + FRAME_END.length : start + max;
    pieces.push(bytes.subarray(start, stop));
    start = stop;
  }
  if (start < bytes.length) pieces.push(bytes.subarray(start));
  return pieces;
}

/** The bytes as they go on the wire: one HTTP/1.1 chunk each, or as they are (an HTTP/1.0 client). */
function onWire(bytes: Buffer, chunked: boolean): Buffer[] {
  const pieces = cutAtFrames(bytes, WRITE_BYTES);
  return chunked ? pieces.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`, 'latin1'), p, CRLF])) : pieces;
}

/** A tick's writes for a kind of viewer and framing, made once (cached on the array the hub hands every client). */
function tickWrites(rows: LiveRow[], seesEmails: boolean, chunked: boolean): Buffer[] {
  let made = writesOfTick.get(rows);
  if (!made) writesOfTick.set(rows, (made = new Map()));
  const key = `${seesEmails ? 'emails' : 'plain'}${chunked ? ' chunked' : ''}`;
  let writes = made.get(key);
  if (!writes) made.set(key, (writes = onWire(Buffer.from(rows.map((row) => eventText(row, seesEmails)).join('')), chunked)));
  return writes;
}

/** The heartbeat, one Buffer per framing for every client. */
const KEEP_ALIVE = Buffer.from(': keep-alive\n\n');
const KEEP_ALIVE_CHUNK = onWire(KEEP_ALIVE, true)[0]!;

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

/** The first and last seq of a tick's rows, parsed once for every client (cached on the array). */
const bounds = new WeakMap<LiveRow[], [bigint, bigint]>();
function seqBounds(rows: LiveRow[]): [bigint, bigint] {
  let made = bounds.get(rows);
  if (!made) bounds.set(rows, (made = [BigInt(rows[0]!.seq), BigInt(rows.at(-1)!.seq)]));
  return made;
}

/** idle: nothing written since the last heartbeat (a client that had facts needs none). */
const clients = new Set<{ res: ServerResponse; idle: boolean; keepAlive: () => void }>();
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
    res.write('retry: 2000\n\n'); // sends the head: from here on the client's bytes go straight to its socket
    const socket = res.socket;
    if (!socket || socket.destroyed) return;
    const chunked = res.chunkedEncoding;

    const client = { res, idle: true, keepAlive: () => undefined as void };
    let cursor = BigInt(from ?? hub.latest);
    let catchingUp = from !== undefined;
    let pending: LiveRow[] = [];
    let closed = false;
    const cut = () => {
      if (closed) return;
      closed = true;
      queue = [];
      unsubscribe();
      clients.delete(client);
      res.destroy();
    };
    /**
     * Writes waiting for the socket's 'drain' (shared Buffers, never copied per client): a client
     * that has not drained is not written again; what it missed goes out at its 'drain', a write
     * of at most WRITE_BYTES at a time, in order. Bounded: a client that does not read (or reads
     * too slowly) is cut, never waited for.
     */
    let queue: Buffer[] = [];
    let queued = 0;
    const flush = () => {
      while (queue.length > 0 && !socket.writableNeedDrain) {
        const bytes = queue.shift()!;
        queued -= bytes.length;
        socket.write(bytes);
      }
    };
    const put = (writes: Buffer[]) => {
      client.idle = false;
      // Judged on what is still unsent from before, not on this tick: one large tick (a burst of
      // facts) goes out to every client; a client that has not taken it by the next one is cut.
      if (queued + socket.writableLength > CLIENT_BUFFER_BYTES) {
        log.warn('live client too slow; cut', { buffered: queued + socket.writableLength });
        return cut();
      }
      if (queue.length === 0 && writes.length === 1 && !socket.writableNeedDrain) return void socket.write(writes[0]!);
      for (const bytes of writes) {
        queue.push(bytes);
        queued += bytes.length;
      }
      flush();
    };
    socket.on('drain', () => {
      if (!closed) flush();
    });
    client.keepAlive = () => {
      if (queue.length === 0 && !socket.writableNeedDrain) socket.write(chunked ? KEEP_ALIVE_CHUNK : KEEP_ALIVE);
    };
    /** The rows after the client's cursor (usually all: the tick's shared writes). */
    const send = (rows: LiveRow[]) => {
      if (rows.length === 0) return;
      const [first, last] = seqBounds(rows);
      let writes: Buffer[];
      if (first > cursor) writes = tickWrites(rows, seesEmails, chunked);
      else {
        const after = cursor;
        const fresh = rows.filter((row) => BigInt(row.seq) > after);
        if (fresh.length === 0) return;
        writes = onWire(Buffer.from(fresh.map((row) => eventText(row, seesEmails)).join('')), chunked);
      }
      cursor = last;
      put(writes);
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
    // One timer for every client of the process (not one per client), one shared Buffer, and
    // only for the clients that had nothing since the last one (with facts flowing: none).
    heartbeat ??= setInterval(() => {
      for (const c of clients) {
        if (c.idle) c.keepAlive();
        c.idle = true;
      }
    }, HEARTBEAT_MS).unref();

    // Resume: everything after the client's id, from the table, then what arrived meanwhile.
    while (catchingUp && !closed) {
      const rows = await rowsAfter(runtime.db, cursor.toString(), BACKLOG_PAGE);
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
