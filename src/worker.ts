import { hostname } from 'node:os';
import type { Task, TaskList } from 'graphile-worker';
import { sql } from 'kysely';
import { sendImportConfirmations } from './domain/imports/confirmations.ts';
import { markImportFailed, resumeImports, runImport, validateBulkKeys } from './domain/imports/pipeline.ts';
import { pruneExpiredStaffSessions } from './domain/staff/sessions.ts';
import { expireComps } from './domain/membership/comp.ts';
import { forgetOldSignals, holdQuickLeavers } from './domain/referrals/guards.ts';
import { mailMilestone, MILESTONE_MAIL_TASK } from './domain/referrals/milestones.ts';
import { startAllBankedRewards } from './domain/referrals/rewards.ts';
import { sendCommentNotifications } from './domain/community/notifications.ts';
import { refreshStats } from './domain/stats/rollup.ts';
import { queueFirstRollup } from './domain/stats/first-rollup.ts';
import { pruneLive } from './domain/live/prune.ts';
import { forgetSignupSignals, releaseCeilingHolds } from './domain/members/waves.ts';
import { queueConfirmation } from './domain/members/subscribe.ts';
import { deliverAlert, sendAlertDigests } from './domain/live/alerts.ts';
import { INSTALL_TEST_TASK, sendTestEmail } from './domain/install/test-email.ts';
import { resumeStaleStripeSyncs, runStripeSync } from './domain/billing/adopt.ts';
import { sendTrialReminder } from './domain/billing/trials.ts';
import { deliverGift, startAllBankedGifts } from './domain/billing/gifts.ts';
import { applyCancellation } from './domain/billing/cancel.ts';
import { deliverWebhook } from './domain/webhooks/deliver.ts';
import { runDelivery } from './domain/fediverse/delivery.ts';
import { sendAnswer } from './domain/fediverse/social.ts';
import { syncPost } from './domain/fediverse/sync.ts';
import { runRecommendationSubscribe } from './domain/recommendations/subscribe.ts';
import { runNightlyBackup } from './domain/backup/nightly.ts';
import { publishDuePosts } from './domain/content/publishing.ts';
import { log } from './lib/log.ts';
import { createRateLimiter, UNLIMITED, type RateLimiter } from './lib/mail-rate.ts';
import { pruneSmtpJournal } from './lib/mailer/smtp.ts';
import { confirmSnsSubscription } from './lib/mailer/inbound.ts';
import { recordHeartbeat, startQueueRunner, type QueueRunner, type TaskName } from './lib/queue.ts';
import { runLane } from './domain/sending/engine.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './domain/sending/lifecycle.ts';
import { prepareSend } from './domain/sending/prepare.ts';
import { releaseDeadClaims, resumeSends } from './domain/sending/recovery.ts';
import { pickWinnerByRule } from './domain/sending/subject-test.ts';
import { enqueueLane, LANES } from './domain/sending/jobs.ts';
import { createSendStore } from './domain/sending/store.ts';
import { releaseDeadAutomationClaims, runAutomationLane } from './domain/automations/engine.ts';
import { enterColdMembers, watchTiers } from './domain/automations/enter.ts';
import { AUTOMATION_LANES, enqueueAutomationLaneAt, enqueueAutomationLanes } from './domain/automations/jobs.ts';
import { pruneRateLimits } from './lib/rate-limit.ts';
import type { Runtime } from './lib/runtime.ts';
import type pg from 'pg';

/** Provider messages may quote the address ("Invalid `to` field: a@b.c"); logs never carry one. */
export function withoutAddresses(message: string): string {
  return message.replace(/[^\s<>"'`,;:]+@[^\s<>"'`,;:]+/g, '<address>');
}

/** This process's name in claims and heartbeats: host and pid, so a restart can tell the dead. */
export const WORKER_ID = `${hostname()}-${process.pid}`;

/** The provider's shared rate (Resend: requests, SMTP: messages); the local outbox has none. */
export function limiterFor(runtime: Runtime): RateLimiter {
  return runtime.mailer.provider === 'outbox'
    ? UNLIMITED
    : createRateLimiter(runtime.db, { requestsPerSecond: runtime.config.sendRateLimit });
}

/** How long a lane job posts before it hands over to a fresh job (bounds a graceful stop). */
const LANE_RUN_MS = 10_000;

export interface SendingOptions {
  retry?: RetryPolicy;
  limiter?: RateLimiter;
}

/** The bulk tasks: preparing a send and its lanes. They run in a runner of their own. */
export function createBulkTaskList(runtime: Runtime, options: SendingOptions = {}): TaskList {
  const limiter = options.limiter ?? limiterFor(runtime);
  const store = createSendStore(runtime.db);
  const prepare: Task<'prepare_send'> = async ({ sendId }) => {
    const outcome = await prepareSend(runtime.db, { ...runtime.keys, from: runtime.config.mailFrom }, sendId);
    if (outcome === 'prepared') log.info('send prepared', { send: sendId });
  };
  const lane: Task<'send_lane'> = async ({ sendId, lane: n }) => {
    const outcome = await runLane(
      {
        store,
        mailer: runtime.mailer,
        limiter,
        payload: runtime.keys,
        retry: options.retry ?? DEFAULT_RETRY,
        owner: WORKER_ID,
        onError: (message, fields) => log.warn(message, { ...fields, reason: withoutAddresses(String(fields.reason ?? '')) }),
      },
      sendId,
      { runForMs: LANE_RUN_MS },
    );
    if (outcome.next === 'stop') return;
    // Hand over to a fresh job under the same key (the running one is locked, so this adds one).
    await enqueueLane(runtime.db, sendId, n, outcome.next === 'at' ? outcome.at : undefined);
  };
  const winner: Task<'pick_subject_winner'> = async ({ sendId }) => {
    const judged = await pickWinnerByRule(runtime.db, sendId);
    if (judged) log.info('subject test decided', { send: sendId, winner: judged.winner, rule: judged.rule });
  };
  // Automations (domain/automations/engine.ts): due steps and their email batches, same limiter.
  const automationLane: Task<'automation_lane'> = async ({ lane: n }) => {
    const outcome = await runAutomationLane(
      {
        db: runtime.db,
        mailer: runtime.mailer,
        limiter,
        keys: runtime.keys,
        mailFrom: runtime.config.mailFrom,
        retry: options.retry ?? DEFAULT_RETRY,
        owner: WORKER_ID,
        onError: (message, fields) => log.warn(message, { ...fields, reason: withoutAddresses(String(fields.reason ?? '')) }),
      },
      { runForMs: LANE_RUN_MS },
    );
    if (outcome.next === 'stop') return;
    await enqueueAutomationLaneAt(runtime.db, n, outcome.next === 'at' ? outcome.at : undefined);
  };
  return { prepare_send: prepare, send_lane: lane, automation_lane: automationLane, pick_subject_winner: winner };
}

/** Every job Hearth runs, by name. Capabilities add their tasks here. */
export function createTaskList(runtime: Runtime, pool: pg.Pool, options: SendingOptions = {}): TaskList {
  const limiter = options.limiter ?? limiterFor(runtime);
  const heartbeat: Task<'heartbeat'> = async ({ workerId }) => {
    await recordHeartbeat(runtime.db, workerId);
  };

  const sendEmail: Task<'send_email'> = async ({ message, idempotencyKey }, helpers) => {
    await limiter.acquire('transactional');
    const result = await runtime.mailer.send(message, { idempotencyKey });
    if (result.ok) return;
    if (result.error.kind === 'rate_limited') await limiter.holdOff(result.error.retryAfterSeconds ?? 1);
    if (result.error.kind === 'invalid') {
      // Retrying cannot help: record and drop, rather than poison the queue for hours.
      log.warn('email refused by the provider', {
        job: helpers.job.id,
        status: result.error.status,
        reason: withoutAddresses(result.error.message),
      });
      return;
    }
    throw new Error(`mail provider ${result.error.kind}: ${withoutAddresses(result.error.message)}`);
  };

  const runImportTask: Task<'run_import'> = async ({ importId }, helpers) => {
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

  const importConfirmations: Task<'import_confirmations'> = async ({ importId }) => {
    const ctx = runtime.keys;
    await sendImportConfirmations(runtime.db, runtime.mailer, ctx, importId);
  };

  // A bulk import's foreign keys, added back NOT VALID by its merge (domain/imports/merge.ts).
  const importValidateKeys: Task<'import_validate_keys'> = async () => {
    const validated = await validateBulkKeys(runtime.db);
    if (validated > 0) log.info('import foreign keys validated', { keys: validated });
  };

  const maintenance: Task<'maintenance'> = async () => {
    await pruneRateLimits(runtime.db);
    await pruneExpiredStaffSessions(runtime.db);
    await pruneSmtpJournal(runtime.db);
    // Next months' engagement partitions exist before their first event.
    await sql`select ensure_engagement_partitions(2)`.execute(runtime.db);
    const ended = await expireComps(runtime.db);
    if (ended > 0) log.info('complimentary access ended', { members: ended });
    // Referral rewards banked behind an access that has just ended start now.
    const started = await startAllBankedRewards(runtime.db);
    if (started > 0) log.info('banked referral rewards started', { rewards: started });
    const gifts = await startAllBankedGifts(runtime.db);
    if (gifts > 0) log.info('banked gift days started', { gifts });
    const held = await holdQuickLeavers(runtime.db);
    if (held > 0) log.info('referrals held: friends left soon after confirming', { referrals: held });
    await forgetOldSignals(runtime.db);
    // Live send counters past the live window (the rollups keep the history) and old live-feed rows.
    await pruneLive(runtime.db);
    await forgetSignupSignals(runtime.db);
    // Confirmations held by the hourly ceiling go out as the last sixty minutes make room.
    const released = await releaseCeilingHolds(runtime.db, {
      confirm: (db, member, newsletters, idempotencyKey) => queueConfirmation(db, runtime.keys, member, newsletters, { idempotencyKey }),
    });
    if (released > 0) log.info('held confirmations released under the hourly ceiling', { members: released });
    const syncs = await resumeStaleStripeSyncs(runtime.db);
    if (syncs > 0) log.warn('interrupted Stripe syncs resumed', { syncs });
  };

  // Adopting the Stripe account's subscriptions (domain/billing/adopt.ts), asked for from the admin.
  const stripeSync: Task<'stripe_sync'> = async ({ syncId }) => {
    await runStripeSync(runtime.db, runtime.stripe, runtime.keys, syncId);
  };

  // Replies and answers owed to members: one email per member per pass (see domain/community/notifications.ts).
  const commentNotifications: Task<'comment_notifications'> = async () => {
    const sent = await sendCommentNotifications(runtime.db, runtime.keys);
    if (sent > 0) log.info('conversation emails queued', { emails: sent });
  };

  const sendWatchdog: Task<'send_watchdog'> = async () => {
    const kicked = await resumeSends(runtime.db, { stalledForSeconds: 120 });
    if (kicked > 0) log.warn('stalled sends restarted', { sends: kicked });
  };

  // Imports whose worker died (kill -9, a lost machine): their run lock is free while they say running.
  const importWatchdog: Task<'import_watchdog'> = async () => {
    const resumed = await resumeImports(runtime.db, { stalledForSeconds: 30 });
    if (resumed > 0) log.warn('stalled imports restarted', { imports: resumed });
  };

  const referralMilestoneEmail: Task<typeof MILESTONE_MAIL_TASK> = async (payload) => {
    await mailMilestone(runtime.db, runtime.keys, payload);
  };

  // The install checklist's test email (domain/install/test-email.ts): once, under its own key.
  const installTestEmail: Task<typeof INSTALL_TEST_TASK> = async ({ testId }) => {
    await sendTestEmail(
      runtime.db,
      runtime.mailer,
      { siteUrl: runtime.config.siteUrl, from: runtime.config.mailFrom, beforeSend: () => limiter.acquire('transactional') },
      testId,
    );
  };

  // The stats rollups (domain/stats/rollup.ts): one run at a time, a run that finds another going skips.
  const statsRollup: Task<'stats_rollup'> = async () => {
    const result = await refreshStats(runtime.db);
    if (!result.skipped) log.info('stats rolled up', { ms: result.ms, sends: result.sends });
  };

  // Outbound webhooks (domain/webhooks/deliver.ts): one attempt per job; the task queues the next.
  const webhookDelivery: Task<'webhook_delivery'> = async ({ deliveryId }) => {
    const outcome = await deliverWebhook(runtime.db, deliveryId, {
      allowPrivate: runtime.config.webhooksAllowPrivate,
      from: runtime.config.mailFrom,
    });
    if (outcome === 'disabled') log.warn('webhook endpoint disabled after 3 days of failures', { delivery: deliveryId });
  };

  // Members who went cold enter, billing changes are read, lanes restarted (domain/automations).
  const automationWatchdog: Task<'automation_watchdog'> = async () => {
    const cold = await enterColdMembers(runtime.db);
    const paid = await watchTiers(runtime.db);
    if (cold + paid > 0) log.info('members entered automations', { cold, billing: paid });
    await enqueueAutomationLanes(runtime.db);
  };

  // The fediverse (domain/fediverse): a post's sync with followers, each delivery, staff answers.
  const fediverse = { db: runtime.db, siteUrl: runtime.config.siteUrl, allowPrivate: runtime.config.federationAllowPrivate };
  const fediversePostSync: Task<'fediverse_post_sync'> = async ({ postId }) => {
    const outcome = await syncPost(runtime.db, runtime.config.siteUrl, postId);
    if (outcome !== 'none') log.info('post federated', { post: postId, activity: outcome });
  };
  const fediverseDelivery: Task<'fediverse_delivery'> = async ({ deliveryId }) => {
    const outcome = await runDelivery(fediverse, deliveryId);
    if (outcome === 'dropped' || outcome === 'gone') log.warn('fediverse server dropped', { delivery: deliveryId, outcome });
  };
  const fediverseAnswer: Task<'fediverse_answer'> = async ({ commentId }) => {
    await sendAnswer(fediverse, commentId);
  };
  // A reader subscribing to a recommended Hearth site in one step (domain/recommendations/subscribe.ts).
  const recommendationSubscribe: Task<'recommendation_subscribe'> = async ({ recommendationId, memberId }, helpers) => {
    const outcome = await runRecommendationSubscribe(fediverse, recommendationId, memberId, helpers.job.attempts);
    if (outcome === 'failed') log.warn('one-step subscription refused', { recommendation: recommendationId });
  };

  // The nightly site archive (domain/backup/nightly.ts) when BACKUP_DIR is set; otherwise nothing.
  const siteBackup: Task<'site_backup'> = async () => {
    const backup = runtime.config.backup;
    if (!backup) return;
    const outcome = await runNightlyBackup(pool, { backupDir: backup.dir, keep: backup.keep, uploadsDir: runtime.config.uploadsDir });
    if ('written' in outcome) log.info('site backup written', { file: outcome.written, removed: outcome.removed.length });
  };

  // Alerts to staff (domain/live/alerts.ts): one fact's rows and immediate emails; the hourly digests.
  const staffAlert: Task<'staff_alert'> = async (payload) => {
    await deliverAlert(runtime.db, runtime.keys, payload);
  };
  const staffAlertDigest: Task<'staff_alert_digest'> = async () => {
    const sent = await sendAlertDigests(runtime.db, runtime.keys);
    if (sent > 0) log.info('staff alert digests queued', { emails: sent });
  };
  // Scheduled posts whose time has come (domain/content/publishing.ts): at each post's time, and every minute.
  const publishDue = async () => {
    const published = await publishDuePosts(runtime.db);
    if (published > 0) log.info('scheduled posts published', { posts: published });
  };
  const publishPost: Task<'publish_post'> = publishDue;
  const publishDuePostsTask: Task<'publish_due_posts'> = publishDue;

  // Amazon SNS asks the SES webhook to confirm its subscription (web/mail-webhooks.ts queues this).
  const snsConfirm: Task<'sns_confirm_subscription'> = async ({ subscribeUrl }) => {
    await confirmSnsSubscription(subscribeUrl);
    log.info('SNS subscription confirmed');
  };

  // Billing's timed emails (domain/billing): the trial's reminder, a gift on its date.
  const trialReminder: Task<'trial_reminder'> = async ({ subscriptionId }) => {
    await sendTrialReminder(runtime.db, runtime.keys, subscriptionId);
  };
  const giftDelivery: Task<'gift_delivery'> = async ({ giftId }) => {
    await deliverGift(runtime.db, runtime.keys, giftId);
  };

  const cancellationApply: Task<'cancellation_apply'> = async ({ cancellationId, pauseMonths }, helpers) => {
    await applyCancellation(runtime.db, runtime.stripe, cancellationId, pauseMonths, {
      lastAttempt: helpers.job.attempts >= helpers.job.max_attempts,
    });
  };

  return {
    heartbeat,
    staff_alert: staffAlert,
    staff_alert_digest: staffAlertDigest,
    sns_confirm_subscription: snsConfirm,
    cancellation_apply: cancellationApply,
    trial_reminder: trialReminder,
    gift_delivery: giftDelivery,
    publish_post: publishPost,
    publish_due_posts: publishDuePostsTask,
    webhook_delivery: webhookDelivery,
    site_backup: siteBackup,
    send_email: sendEmail,
    stats_rollup: statsRollup,
    maintenance,
    run_import: runImportTask,
    import_confirmations: importConfirmations,
    import_validate_keys: importValidateKeys,
    send_watchdog: sendWatchdog,
    import_watchdog: importWatchdog,
    [MILESTONE_MAIL_TASK]: referralMilestoneEmail,
    [INSTALL_TEST_TASK]: installTestEmail,
    comment_notifications: commentNotifications,
    stripe_sync: stripeSync,
    automation_watchdog: automationWatchdog,
    fediverse_post_sync: fediversePostSync,
    fediverse_delivery: fediverseDelivery,
    fediverse_answer: fediverseAnswer,
    recommendation_subscribe: recommendationSubscribe,
  };
}

/** graphile-worker's crontab (minute hour day month weekday → task); each task takes a CronPayload. */
const CRONTAB: Array<[string, TaskName]> = [
  ['17 * * * *', 'maintenance'],
  ['* * * * *', 'send_watchdog'],
  ['* * * * *', 'import_watchdog'],
  ['* * * * *', 'publish_due_posts'],
  ['*/5 * * * *', 'comment_notifications'],
  ['*/10 * * * *', 'stats_rollup'],
  ['3 * * * *', 'staff_alert_digest'],
  ['* * * * *', 'automation_watchdog'],
  // Nightly, 03:41 UTC (a no-op unless BACKUP_DIR is set).
  ['41 3 * * *', 'site_backup'],
];

function pidIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startWorker(runtime: Runtime, pool: pg.Pool, options: SendingOptions = {}): Promise<QueueRunner> {
  const limiter = options.limiter ?? limiterFor(runtime);
  // Sends interrupted by a worker that died: release its batches and restart their jobs.
  const released = await releaseDeadClaims(runtime.db, hostname(), pidIsAlive);
  const resumed = await resumeSends(runtime.db, { stalledForSeconds: 0 });
  if (released + resumed > 0) log.info('sends resumed', { batchesReleased: released, sends: resumed });
  // Automation batches of a killed worker: released now, and the lanes started again.
  await releaseDeadAutomationClaims(runtime.db, hostname(), pidIsAlive);
  await enqueueAutomationLanes(runtime.db);
  const imports = await resumeImports(runtime.db, { stalledForSeconds: 0 });
  if (imports > 0) log.info('imports resumed', { imports });
  // Stats never rolled up (a first start): the first run now, not at the next ten-minute mark.
  if (await queueFirstRollup(runtime.db)) log.info('first stats rollup queued');
  const runner = await startQueueRunner(runtime.db, pool, createTaskList(runtime, pool, { ...options, limiter }), {
    crontab: CRONTAB.map(([at, task]) => `${at} ${task}`).join('\n'),
    bulk: { taskList: createBulkTaskList(runtime, { ...options, limiter }), concurrency: LANES + 1 + AUTOMATION_LANES },
  });
  log.info('worker started', { workerId: runner.workerId });
  return runner;
}
