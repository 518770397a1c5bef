import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/types.ts';
import { errorFields, log } from './log.ts';

/**
 * One process's window on the live feed (live_events, migration 0040): one LISTEN connection
 * per process, whatever the number of stream clients. A NOTIFY (sent at commit by any process:
 * web, worker, CLI) wakes it; it reads the rows after the last seq it saw, once, and hands them to
 * every subscriber in memory. A poll every few seconds covers a lost connection. Subscribers
 * must not block: each keeps its own bounded buffer (live-routes.ts) and is dropped when full.
 *
 * Reads come at most once a tick (tickMs): the facts of a tick go out together, so a client
 * costs one socket write per tick, not one per fact, whatever the rate of facts. The hand-out is
 * sliced (FAN_OUT_SLICE subscribers or SLICE_MS, then the event loop's other work), so 200 clients never hold
 * up a page request for the time of 200 writes. With 200 clients and 50 facts a second, that is
 * 400 writes a second (2 ticks of 500 ms) in slices of 20, where one write per fact and client
 * made 10,000, a 100 ms tick 2,000 and a 250 ms tick 800 (bench/live.ts stream). Nothing here runs
 * for a request that is not a stream: the hub starts with the first stream and works only when
 * facts arrive.
 */
export interface LiveRow {
  seq: string;
  type: string;
  data: Record<string, unknown>;
  at: string;
}

export type LiveSubscriber = (rows: LiveRow[]) => void;

const CHANNEL = 'hearth_live';
const POLL_MS = 3_000;
const PAGE = 1_000;
/**
 * The longest a fact waits for the others of its tick, by audience. Each tick costs one socket
 * write per client (and on the client's side a wake-up), whatever the facts: the tick grows with the
 * clients so that the writes stay at WRITES_PER_SECOND at most, between MIN_TICK_MS (up to 100
 * clients) and MAX_TICK_MS (from 400), inside the feed's 2 s promise (a fact waits at most a tick,
 * then one read and the hand-out). 200 clients: 500 ms ticks, 400 writes a second (bench/live.ts stream).
 */
const MIN_TICK_MS = 250;
const MAX_TICK_MS = 1_000;
const WRITES_PER_SECOND = 400;
export function tickMs(subscribers: number): number {
  return Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.ceil((subscribers * 1000) / WRITES_PER_SECOND)));
}
/**
 * Subscribers written between two turns of the event loop, at most: a slice also ends once it has
 * taken SLICE_MS, so a page request that arrives during a tick waits for one short slice, never
 * for the tick, however slow the writes are on a loaded machine (bench/live.ts stream).
 */
const FAN_OUT_SLICE = 20;
const SLICE_MS = 0.5;

export class LiveHub {
  private cursor = '0';
  private subscribers = new Set<LiveSubscriber>();
  private client: pg.Client | undefined;
  private reading = false;
  private again = false;
  private lastRead = 0;
  private tick: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private started: Promise<void> | undefined;
  private stopped = false;

  private readonly db: Kysely<Database>;
  private readonly connection: pg.ClientConfig;

  constructor(db: Kysely<Database>, connection: pg.ClientConfig) {
    this.db = db;
    this.connection = connection;
  }

  /** Starts listening (once); resolves when the hub knows the latest seq. */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.cursor = await latestSeq(this.db);
      await this.listen();
      this.poll = setInterval(() => this.wake(), POLL_MS);
      this.poll.unref();
    })();
    // A failed start (the database away) is tried again by the next stream, not remembered.
    this.started.catch(() => (this.started = undefined));
    return this.started;
  }

  /** The latest seq handed to subscribers: a new stream "from now" starts after it. */
  get latest(): string {
    return this.cursor;
  }

  get size(): number {
    return this.subscribers.size;
  }

  subscribe(fn: LiveSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    if (this.tick) clearTimeout(this.tick);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.connection);
    client.on('notification', () => this.wake());
    client.on('error', (err) => {
      log.warn('live feed listener lost its connection; reconnecting', errorFields(err));
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      setTimeout(() => void this.listen().catch(() => undefined), 1_000).unref();
    });
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
    this.client = client;
    void this.read(); // what committed while (re)connecting
  }

  /** A read at the next tick: at once if the last one is a tick ago, else when it is. */
  private wake(): void {
    if (this.tick || this.stopped) return;
    const wait = Math.max(0, this.lastRead + tickMs(this.subscribers.size) - Date.now());
    this.tick = setTimeout(() => {
      this.tick = undefined;
      void this.read();
    }, wait).unref();
  }

  /**
   * Reads what is new since the cursor and hands it out; one read at a time. Woken meanwhile, it
   * reads again at the next tick; a full page is followed at once.
   */
  private async read(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.again = false;
    this.lastRead = Date.now();
    let full = false;
    try {
      const rows = await rowsAfter(this.db, this.cursor, PAGE);
      if (rows.length > 0) {
        this.cursor = rows.at(-1)!.seq;
        await this.handOut(rows);
        full = rows.length === PAGE;
      }
    } catch (err) {
      log.warn('live feed read failed', errorFields(err));
    } finally {
      this.reading = false;
    }
    if (full && !this.stopped) void this.read();
    else if (this.again) this.wake();
  }

  /** The same rows (one array: live-routes.ts caches each frame on it) to every subscriber, in slices. */
  private async handOut(rows: LiveRow[]): Promise<void> {
    let given = 0;
    let sliceStart = performance.now();
    for (const fn of [...this.subscribers]) {
      if (!this.subscribers.has(fn)) continue; // left during an earlier slice
      try {
        fn(rows);
      } catch (err) {
        log.warn('live subscriber failed', errorFields(err));
      }
      if (++given >= FAN_OUT_SLICE || performance.now() - sliceStart >= SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        given = 0;
        sliceStart = performance.now();
      }
    }
  }
}

/**
 * Committed facts after `seq` (seq is null until its transaction commits), oldest first. Ordered
 * by the column, not by the output's `seq` (text, for exact ids): in text order 10 comes before 9,
 * so a read across 9 → 10 handed out 10…13, 9, and the hub's cursor went back to 9.
 */
export async function rowsAfter(db: Kysely<Database>, seq: string, limit: number): Promise<LiveRow[]> {
  const rows = await sql<{ seq: string; type: string; data: Record<string, unknown>; created_at: Date }>`
    select e.seq::text as seq, e.type, e.data, e.created_at from live_events e where e.seq > ${seq}::bigint order by e.seq limit ${limit}
  `.execute(db);
  return rows.rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data, at: r.created_at.toISOString() }));
}

export async function latestSeq(db: Kysely<Database>): Promise<string> {
  const row = await sql<{ seq: string | null }>`select max(seq)::text as seq from live_events`.execute(db);
  return row.rows[0]?.seq ?? '0';
}

let hub: LiveHub | undefined;

/** The process's hub, started on first use. */
export function liveHubFor(db: Kysely<Database>, pool: pg.Pool): LiveHub {
  hub ??= new LiveHub(db, pool.options as pg.ClientConfig);
  return hub;
}

export async function stopLiveHub(): Promise<void> {
  const h = hub;
  hub = undefined;
  await h?.stop();
}
