import type { Task, TaskList } from 'graphile-worker';
import { sendImportConfirmations } from './domain/imports/confirmations.ts';
import { markImportFailed, runImport } from './domain/imports/pipeline.ts';
import { pruneExpiredStaffSessions } from './domain/staff/sessions.ts';
import { expireComps } from './domain/membership/comp.ts';
import { sendCommentNotifications } from './domain/community/notifications.ts';
import { log } from './lib/log.ts';
import type { SendEmailPayload } from './lib/mail-queue.ts';
import { recordHeartbeat, startQueueRunner, type QueueRunner } from './lib/queue.ts';
import { pruneRateLimits } from './lib/rate-limit.ts';
import type { Runtime } from './lib/runtime.ts';
import type pg from 'pg';

/** Provider messages may quote the address ("Invalid `to` field: a@b.c"); logs never carry one. */
export function withoutAddresses(message: string): string {
  return message.replace(/[^\s<>"'`,;:]+@[^\s<>"'`,;:]+/g, '<address>');
}

/** Every job Hearth runs, by name. Capabilities add their tasks here. */
export function createTaskList(runtime: Runtime, pool: pg.Pool): TaskList {
  const heartbeat: Task = async (payload) => {
    await recordHeartbeat(runtime.db, (payload as { workerId: string }).workerId);
  };

  const sendEmail: Task = async (payload, helpers) => {
    const { message, idempotencyKey } = payload as SendEmailPayload;
    const result = await runtime.mailer.send(message, { idempotencyKey });
    if (result.ok) return;
    if (result.error.kind === 'invalid') {
      // Retrying cannot help: record and drop, rather than poison the queue for hours.
      log.warn('email refused by the provider', { job: helpers.job.id, status: result.error.status, reason: withoutAddresses(result.error.message) });
      return;
    }
    throw new Error(`mail provider ${result.error.kind}: ${withoutAddresses(result.error.message)}`);
  };

  const runImportTask: Task = async (payload, helpers) => {
    const { importId } = payload as { importId: string };
    try {
      await runImport(runtime.db, pool, importId);
    } catch (err) {
      // runImport rethrows only when the database connection was lost, so that the job retries.
      // On the last attempt the import must not stay "running" forever.
      if (helpers.job.attempts >= helpers.job.max_attempts) {
        await markImportFailed(runtime.db, importId, 'The import kept losing its database connection; upload the file again.');
      }
      throw err;
    }
  };

  const importConfirmations: Task = async (payload) => {
    const ctx = { secret: runtime.config.appSecret, siteUrl: runtime.config.siteUrl };
    await sendImportConfirmations(runtime.db, runtime.mailer, ctx, (payload as { importId: string }).importId);
  };

  const maintenance: Task = async () => {
    await pruneRateLimits(runtime.db);
    await pruneExpiredStaffSessions(runtime.db);
    const ended = await expireComps(runtime.db);
    if (ended > 0) log.info('complimentary access ended', { members: ended });
  };

  // Replies and answers owed to members: one email per member per pass (see domain/community/notifications.ts).
  const commentNotifications: Task = async () => {
    const sent = await sendCommentNotifications(runtime.db, { secret: runtime.config.appSecret, siteUrl: runtime.config.siteUrl });
    if (sent > 0) log.info('conversation emails queued', { emails: sent });
  };

  return { heartbeat, send_email: sendEmail, maintenance, run_import: runImportTask, import_confirmations: importConfirmations, comment_notifications: commentNotifications };
}

export async function startWorker(runtime: Runtime, pool: pg.Pool): Promise<QueueRunner> {
  const runner = await startQueueRunner(runtime.db, pool, createTaskList(runtime, pool), {
    // graphile-worker's crontab: minute hour day month weekday task
    crontab: ['17 * * * * maintenance', '*/5 * * * * comment_notifications'].join('\n'),
  });
  log.info('worker started', { workerId: runner.workerId });
  return runner;
}
