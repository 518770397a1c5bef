import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { Logger, run, type Runner, type TaskList } from 'graphile-worker';
import type pg from 'pg';
import type { AlertKind, Database } from '../../db/types.ts';
import { log } from './log.ts';
import type { SendEmailPayload } from './mail-queue.ts';
import { dbNow } from './sql.ts';

/** What graphile-worker's crontab puts in a scheduled job's payload. */
export interface CronPayload {
  _cron: { ts: string; backfilled?: boolean };
}

declare global {
  namespace GraphileWorker {
    /**
     * Every job Hearth runs: task name → payload. graphile-worker's own declaration, so
     * `enqueue`, `addJob` and `Task<'name'>` handlers all check the payload against it.
     * A payload is JSON in the jobs table: ids are strings, never objects with methods.
     */
    interface Tasks {
      heartbeat: { workerId: string };
      send_email: SendEmailPayload;
      prepare_send: { sendId: string };
      send_lane: { sendId: string; lane: number };
      pick_subject_winner: { sendId: string };
      run_import: { importId: string };
      import_confirmations: { importId: string };
      import_validate_keys: Record<string, never>;
      referral_milestone_email: { memberId: string; milestoneId: string };
      install_test_email: { testId: string };
      stripe_sync: { syncId: string };
      webhook_delivery: { deliveryId: string };
      // One fact's alerts to staff (domain/live/alerts.ts).
      staff_alert: { kind: AlertKind; factKey: string; summary: string; link: string };
      sns_confirm_subscription: { subscribeUrl: string };
      trial_reminder: { subscriptionId: string };
      gift_delivery: { giftId: string };
      automation_lane: { lane: number };
      fediverse_delivery: { deliveryId: string };
      fediverse_post_sync: { postId: string };
      fediverse_answer: { commentId: string };
      recommendation_subscribe: { recommendationId: string; memberId: string };
      cancellation_apply: { cancellationId: string; pauseMonths: number };
      publish_post: { postId: string };
      // Crontab tasks (src/worker.ts): the payload is the cron stamp only.
      maintenance: CronPayload;
      send_watchdog: CronPayload;
      import_watchdog: CronPayload;
      comment_notifications: CronPayload;
      stats_rollup: CronPayload;
      site_backup: CronPayload;
      staff_alert_digest: CronPayload;
      automation_watchdog: CronPayload;
      publish_due_posts: CronPayload;
    }
  }
}

export type TaskName = keyof GraphileWorker.Tasks;
export type TaskPayload<T extends TaskName> = GraphileWorker.Tasks[T];

/**
 * The job queue: graphile-worker on the application's own Postgres.
 *
 * Jobs are added with SQL (`graphile_worker.add_job`) through the caller's `db`, so a job is
 * enqueued in the same transaction as the rows that need it: a signup and its confirmation
 * email commit together or not at all, and no reader's request waits on the mail provider.
 */
export interface EnqueueOptions {
  /** Deduplicates: a second job with the same key replaces the pending one. */
  jobKey?: string;
  runAt?: Date;
  maxAttempts?: number;
  /**
   * With a key: 'replace' (the default) moves a pending job to this run_at; 'preserve_run_at'
   * keeps a pending job's time (a job rescheduling itself must not delay one asked for sooner).
   */
  jobKeyMode?: 'replace' | 'preserve_run_at';
  /** Lower runs first. Transactional mail uses PRIORITY.transactional so it never waits behind a bulk send. */
  priority?: number;
}

export const PRIORITY = { transactional: -10, normal: 0, bulk: 10 } as const;

export async function enqueue<T extends TaskName>(
  db: Kysely<Database>,
  task: T,
  payload: TaskPayload<T>,
  options: EnqueueOptions = {},
): Promise<void> {
  await sql`select graphile_worker.add_job(
    identifier => ${task},
    payload => ${JSON.stringify(payload)}::json,
    run_at => ${options.runAt ?? null}::timestamptz,
    max_attempts => ${options.maxAttempts ?? null}::int,
    job_key => ${options.jobKey ?? null}::text,
    priority => ${options.priority ?? null}::int,
    job_key_mode => ${options.jobKeyMode ?? null}::text
  )`.execute(db);
}

const HEARTBEAT_MS = 5_000;
/** A worker that has not beaten for this long is reported down by /healthz. */
export const HEARTBEAT_STALE_SECONDS = 30;

/** Writes this worker's heartbeat; runs as a job, so a beat proves the worker is taking jobs. */
export async function recordHeartbeat(db: Kysely<Database>, workerId: string): Promise<void> {
  await db
    .insertInto('worker_heartbeats')
    .values({ worker_id: workerId, beat_at: dbNow() })
    .onConflict((oc) => oc.column('worker_id').doUpdateSet({ beat_at: dbNow() }))
    .execute();
}

export async function workerIsUp(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('worker_heartbeats')
    .select('worker_id')
    .where('beat_at', '>', dbNow({ seconds: -HEARTBEAT_STALE_SECONDS }))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

const workerLogger = new Logger((scope) => (level, message) => {
  const lvl = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  log[lvl](message, { component: 'worker', task: scope.taskIdentifier, job: scope.jobId });
});

export interface QueueRunner {
  workerId: string;
  stop(): Promise<void>;
}

/**
 * Runs the worker. A timer enqueues a `heartbeat` job every few seconds under one job key
 * per worker; the job's handler writes the beat. The task list must include `heartbeat`.
 */
export async function startQueueRunner(
  db: Kysely<Database>,
  pool: pg.Pool,
  taskList: TaskList,
  options: { concurrency?: number; crontab?: string; bulk?: { taskList: TaskList; concurrency: number } } = {},
): Promise<QueueRunner> {
  const workerId = `${hostname()}-${process.pid}`;
  const runner: Runner = await run({
    pgPool: pool,
    taskList,
    concurrency: options.concurrency ?? 4,
    noHandleSignals: true,
    pollInterval: 1_000,
    logger: workerLogger,
    ...(options.crontab ? { crontab: options.crontab } : {}),
  });
  // Bulk work (a send's lanes) runs in a runner of its own, which takes only those tasks: a
  // million-member send never occupies the slots that confirmations and magic links need.
  const bulk: Runner | undefined = options.bulk
    ? await run({
        pgPool: pool,
        taskList: options.bulk.taskList,
        concurrency: options.bulk.concurrency,
        noHandleSignals: true,
        pollInterval: 1_000,
        logger: workerLogger,
      })
    : undefined;
  const beat = () =>
    enqueue(db, 'heartbeat', { workerId }, { jobKey: `heartbeat:${workerId}`, maxAttempts: 1, priority: PRIORITY.transactional }).catch(
      (err) => log.warn('heartbeat enqueue failed', { message: (err as Error).message }),
    );
  await beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  let stopping: Promise<void> | undefined;
  return {
    workerId,
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        await Promise.all([runner.stop(), bulk?.stop()]);
        await db
          .deleteFrom('worker_heartbeats')
          .where('worker_id', '=', workerId)
          .execute()
          .catch(() => undefined);
      })();
      return stopping;
    },
  };
}
