import { sql, type Kysely } from 'kysely';
import type { Database, EngagementKind } from '../../db/types.ts';
import { errorFields, log } from './log.ts';

/**
 * Engagement events, written in small groups: each `write` joins the group being collected,
 * which is inserted with one statement at most `maxWaitMs` later (or at `maxBatch` rows), and
 * resolves once that statement has committed. A tracking request answers only then, so an
 * event that was answered is on disk (a restart cannot lose it), and a thousand requests a
 * second cost a few inserts a second instead of a thousand commits.
 *
 * One statement in flight at a time per process: while it commits, the next group collects and
 * goes as soon as it is done, so the groups grow with the load (group commit). Several statements
 * at once would each upsert the same send's counter row (send_live_counts, link -1) and queue on
 * its row lock until the one ahead had committed: at 2,000 events/s on a live send that queue,
 * not the work, set the answer time (bench/RESULTS.md, issue 20).
 */
export interface EngagementRow {
  kind: EngagementKind;
  member_id: string | null;
  send_id: string | null;
  post_id: string | null;
  link: number | null;
  machine: boolean;
  agent: string;
}

export interface EventWriter {
  write(row: EngagementRow): Promise<void>;
  /** Writes what is collected now (at shutdown). */
  flush(): Promise<void>;
}

interface Waiting {
  row: EngagementRow;
  done: () => void;
  failed: (err: unknown) => void;
}

export function createEventWriter(db: Kysely<Database>, options: { maxBatch?: number; maxWaitMs?: number } = {}): EventWriter {
  const maxBatch = options.maxBatch ?? 500;
  const maxWaitMs = options.maxWaitMs ?? 4;
  let group: Waiting[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** The statement in flight, if any. */
  let writing: Promise<void> | undefined;

  async function writeGroup(batch: Waiting[]): Promise<void> {
    try {
      await insertWithLiveCounts(
        db,
        batch.map((b) => b.row),
      );
      for (const b of batch) b.done();
    } catch (err) {
      log.error('engagement events not written', { events: batch.length, ...errorFields(err) });
      for (const b of batch) b.failed(err);
    }
  }

  /** Starts the next statement unless one is in flight (its end starts the next). */
  function kick(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (writing || group.length === 0) return;
    const batch = group.length > maxBatch ? group.splice(0, maxBatch) : group;
    if (batch === group) group = [];
    writing = writeGroup(batch).finally(() => {
      writing = undefined;
      // What came in meanwhile has waited at least one commit: it goes now.
      if (group.length > 0) kick();
    });
  }

  return {
    write(row) {
      return new Promise<void>((done, failed) => {
        group.push({ row, done, failed });
        if (group.length >= maxBatch) kick();
        else if (!writing) timer ??= setTimeout(kick, maxWaitMs);
      });
    },
    async flush() {
      while (writing || group.length > 0) {
        kick();
        await writing;
      }
    },
  };
}

/**
 * Inserts the events and, in the same statement, adds the opens and clicks of sends to
 * send_live_counts (the live send report, domain/stats/live.ts). Unique figures: a member's first
 * open, first click and first click per link go into send_live_firsts ("on conflict do nothing"
 * returns only the firsts), and only those add to the unique counts.
 *
 * Why a counter and not a count of recent events: counting a live send's events (and its
 * distinct members) grows with the send, while the counter rows are a dozen primary-key reads
 * whatever its size, for one more upsert per batch of events (figures: bench/live.ts,
 * bench/RESULTS.md).
 * Rows are upserted in key order, so two batches never deadlock.
 */
async function insertWithLiveCounts(db: Kysely<Database>, rows: EngagementRow[]): Promise<void> {
  await sql`
    with ev as (
      insert into engagement_events (kind, member_id, send_id, post_id, link, machine, agent)
      select kind, member_id, send_id, post_id, link, machine, agent
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as x(kind text, member_id bigint, send_id bigint, post_id bigint, link int, machine boolean, agent text)
      returning kind, member_id, send_id, link, machine
    ),
    s as (select * from ev where send_id is not null and kind in ('open', 'click')),
    firsts as (
      insert into send_live_firsts (send_id, what, member_id)
      select distinct s.send_id, w.what, s.member_id
      from s cross join lateral (values (case when s.kind = 'open' then -2 else -1 end), (case when s.kind = 'click' then s.link end)) w(what)
      where not s.machine and s.member_id is not null and w.what is not null
      order by 1, 2, 3
      on conflict do nothing
      returning send_id, what
    ),
    counted as (
      select send_id, -1 as link,
        count(*) filter (where kind = 'open' and not machine) as ho, 0 as uo, count(*) filter (where kind = 'open' and machine) as mo,
        count(*) filter (where kind = 'click' and not machine) as hc, 0 as uc, count(*) filter (where kind = 'click' and machine) as mc
      from s group by send_id
      union all
      select send_id, link, 0, 0, 0, count(*) filter (where not machine), 0, count(*) filter (where machine)
      from s where kind = 'click' and link is not null group by send_id, link
      union all
      select send_id, greatest(what, -1), 0, count(*) filter (where what = -2), 0, 0, count(*) filter (where what <> -2), 0
      from firsts group by send_id, greatest(what, -1)
    )
    insert into send_live_counts as c (send_id, link, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks)
    select send_id, link, sum(ho), sum(uo), sum(mo), sum(hc), sum(uc), sum(mc) from counted group by send_id, link order by send_id, link
    on conflict (send_id, link) do update set
      human_opens = c.human_opens + excluded.human_opens, unique_human_opens = c.unique_human_opens + excluded.unique_human_opens,
      machine_opens = c.machine_opens + excluded.machine_opens, human_clicks = c.human_clicks + excluded.human_clicks,
      unique_human_clicks = c.unique_human_clicks + excluded.unique_human_clicks, machine_clicks = c.machine_clicks + excluded.machine_clicks
  `.execute(db);
}

const writers = new WeakMap<object, EventWriter>();

/** One writer per database handle and process. */
export function eventWriterFor(db: Kysely<Database>): EventWriter {
  let writer = writers.get(db);
  if (!writer) {
    writer = createEventWriter(db);
    writers.set(db, writer);
  }
  return writer;
}
