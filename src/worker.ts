import type { Task, TaskList } from 'graphile-worker';
import { sendImportConfirmations } from './domain/imports/confirmations.ts';
import { markImportFailed, runImport } from './domain/imports/pipeline.ts';
import { pruneExpiredStaffSessions } from './domain/staff/sessions.ts';
import { expireComps } from './domain/membership/comp.ts';
import { forgetOldSignals, holdQuickLeavers } from './domain/referrals/guards.ts';
import { mailMilestone, MILESTONE_MAIL_TASK } from './domain/referrals/milestones.ts';
import { startAllBankedRewards } from './domain/referrals/rewards.ts';
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
    // Referral rewards banked behind an access that has just ended start now.
    const started = await startAllBankedRewards(runtime.db);
    if (started > 0) log.info('banked referral rewards started', { rewards: started });
    const held = await holdQuickLeavers(runtime.db);
    if (held > 0) log.info('referrals held: friends left soon after confirming', { referrals: held });
    await forgetOldSignals(runtime.db);
  };

  const referralMilestoneEmail: Task = async (payload) => {
    await mailMilestone(runtime.db, { siteUrl: runtime.config.siteUrl }, payload as { memberId: string; milestoneId: string });
  };

  return { heartbeat, send_email: sendEmail, maintenance, run_import: runImportTask, import_confirmations: importConfirmations, [MILESTONE_MAIL_TASK]: referralMilestoneEmail };
}

export async function startWorker(runtime: Runtime, pool: pg.Pool): Promise<QueueRunner> {
  const runner = await startQueueRunner(runtime.db, pool, createTaskList(runtime, pool), {
    // graphile-worker's crontab: minute hour day month weekday task
    crontab: '17 * * * * maintenance',
  });
  log.info('worker started', { workerId: runner.workerId });
  return runner;
}
