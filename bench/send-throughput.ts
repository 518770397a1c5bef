/**
 * The sending pipeline's own speed, to a local Resend-compatible server that never throttles:
 * time to prepare (snapshot N deliveries and their batches) and emails per second end to end
 * (claim → personalise → post through the Resend SDK → mark), with the worker's 8 lanes.
 * Usage: npm run bench:send -- [recipients=100000]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { prepareSend } from '../src/domain/sending/prepare.ts';
import { createSend, getSend } from '../src/domain/sending/sends.ts';
import { countRecipients, parseSegmentInput, resolveSegment } from '../src/domain/sending/segments.ts';
import { loadConfig } from '../src/lib/config.ts';
import { createRateLimiter } from '../src/lib/mail-rate.ts';
import { createResendMailer } from '../src/lib/mailer/resend.ts';
import { siteKeys } from '../src/lib/site-keys.ts';
import { startWorker } from '../src/worker.ts';
import { makePost, seedAudience } from '../test/helpers/sending.ts';
import { startRemoteResend } from './resend-client.ts';

const recipients = Number(process.argv[2] ?? 100_000);
/** `--count-only`: stop after timing the recipient count (the figure the admin shows). */
const countOnly = process.argv.includes('--count-only');
const resend = await startRemoteResend();
// A post of about 700 words with a few links and a list: a typical newsletter issue.
const paragraph =
  'We roasted a new lot from the Huila highlands this week, and it tastes of red apple, panela and a little cocoa. [Read the tasting notes](/posts/huila) or reply with yours. ';
const markdown = Array.from({ length: 20 }, (_, i) => (i % 5 === 4 ? `- one\n- two\n- three\n` : paragraph.repeat(2))).join('\n\n');
try {
  await withScratchDatabase('send', { poolSize: 16 }, async (handle) => {
    const seeded = performance.now();
    await seedAudience(handle.db, recipients);
    await handle.pool.query('vacuum analyze');
    const seedSeconds = (performance.now() - seeded) / 1000;
    const postId = await makePost(handle.db, { title: 'Harvest notes', markdown });
    // The count the admin shows before sending (median of 5 after a warm-up).
    const segment = await resolveSegment(handle.db, parseSegmentInput({ newsletters: ['weekly'] }));
    await countRecipients(handle.db, segment, postId);
    const countMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c0 = performance.now();
      await countRecipients(handle.db, segment, postId);
      countMs.push(performance.now() - c0);
    }
    countMs.sort((a, b) => a - b);
    if (countOnly) {
      console.log(
        JSON.stringify({
          figure: 'recipient count before sending',
          recipients,
          medianMs: Math.round(countMs[2]!),
          minMs: Math.round(countMs[0]!),
          maxMs: Math.round(countMs[4]!),
        }),
      );
    }
    if (!countOnly) {
      const send = await createSend(handle.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
      const config = { ...loadConfig({ SITE_URL: 'https://news.example.com' }), appSecret: 'bench-secret-0123456789abcdef0123456789' };
      const t0 = performance.now();
      await prepareSend(handle.db, { siteUrl: config.siteUrl, from: 'Field Notes <letters@example.com>' }, send.id);
      const prepareSeconds = (performance.now() - t0) / 1000;
      const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: 'Field Notes <letters@example.com>' });
      const runtime = { config, keys: siteKeys(config), db: handle.db, mailer, stripe: undefined };
      const t1 = performance.now();
      const cpu0 = process.cpuUsage();
      const worker = await startWorker(runtime, handle.pool, { limiter: createRateLimiter(handle.db, { requestsPerSecond: 10_000 }) });
      for (;;) {
        const s = await getSend(handle.db, send.id);
        if (s.status === 'sent' || s.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const postSeconds = (performance.now() - t1) / 1000;
      const cpu = process.cpuUsage(cpu0);
      await worker.stop();
      const done = await getSend(handle.db, send.id);
      const stats = await resend.stats();
      console.log(
        JSON.stringify({
          figure: 'send pipeline, unthrottled',
          recipients: done.recipients,
          posted: done.posted,
          receivedAtServer: stats.received,
          duplicates: stats.duplicates,
          seedSeconds: Number(seedSeconds.toFixed(1)),
          recipientCountMs: Math.round(countMs[2]!),
          prepareSeconds: Number(prepareSeconds.toFixed(2)),
          postSeconds: Number(postSeconds.toFixed(1)),
          emailsPerSecond: Math.round(done.posted / postSeconds),
          endToEndEmailsPerSecond: Math.round(done.posted / (postSeconds + prepareSeconds)),
          // Hearth's own cost: the worker process's CPU (user + system) while posting.
          workerCpuMsPer1000Emails: Number(((cpu.user + cpu.system) / 1000 / (done.posted / 1000)).toFixed(1)),
          database: handle.embedded ? 'embedded' : 'external',
        }),
      );
    }
  });
} finally {
  await resend.close();
}
