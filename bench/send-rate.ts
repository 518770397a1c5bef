/**
 * The shared rate limiter against a provider that enforces its limit: the local
 * Resend-compatible server answers 429 beyond SEND_RATE_LIMIT requests per second, and we
 * measure the rate achieved as a share of the limit, and the 429s we still caused.
 * Usage: npm run bench:send-rate -- [rates=5,20] [seconds=15] [workers=2]
 * Each rate runs `workers` worker processes at once (the limiter is shared through PostgreSQL).
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSend, getSend } from '../src/domain/sending/sends.ts';
import { CLI, cleanEnv, ROOT } from '../test/helpers/server.ts';
import { makePost, seedAudience } from '../test/helpers/sending.ts';
import { startRemoteResend } from './resend-client.ts';

const rates = (process.argv[2] ?? '5,20').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 15);
const workers = Number(process.argv[4] ?? 2);
try {
  await withScratchDatabase('rate', { poolSize: 4 }, async (handle) => {
    await seedAudience(handle.db, Math.max(...rates) * seconds * 100);
    for (const rate of rates) {
      const resend = await startRemoteResend();
      await resend.throttle(rate);
      // Enough members for `seconds` of requests at this rate.
      await handle.pool.query(
        `update member_newsletters set newsletter_id = (select id from newsletters where slug = case when member_id <= $1 then 'weekly' else 'extra' end)`,
        [rate * seconds * 100],
      );
      await handle.pool.query(`delete from mail_rate`);
      const postId = await makePost(handle.db, { title: `Rate ${rate}` });
      const children: ChildProcess[] = Array.from({ length: workers }, () =>
        spawn(process.execPath, [CLI, 'worker'], {
          cwd: ROOT,
          env: cleanEnv({
            DATABASE_URL: handle.url,
            APP_SECRET: 'bench-secret-0123456789abcdef0123456789',
            SITE_URL: 'https://news.example.com',
            RESEND_API_KEY: 're_test_key',
            RESEND_BASE_URL: resend.url,
            SEND_RATE_LIMIT: String(rate),
            LOG_LEVEL: 'error',
          }),
          stdio: 'ignore',
        }),
      );
      await new Promise((r) => setTimeout(r, 1500)); // workers boot
      const send = await createSend(handle.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
      for (;;) {
        const s = await getSend(handle.db, send.id);
        if (s.status === 'sent' || s.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const stats = await resend.stats();
      const achieved = (stats.accepted - 1) / ((stats.lastAccepted! - stats.firstAccepted!) / 1000);
      console.log(
        JSON.stringify({
          figure: 'send rate vs SEND_RATE_LIMIT',
          limit: rate,
          workers,
          requests: stats.accepted,
          recipients: stats.received,
          duplicates: stats.duplicates,
          achievedPerSecond: Number(achieved.toFixed(2)),
          shareOfLimit: Number((achieved / rate).toFixed(3)),
          responses429: stats.throttled,
        }),
      );
      await Promise.all(
        children.map(
          (c) =>
            new Promise((r) => {
              c.once('exit', r);
              c.kill('SIGTERM');
            }),
        ),
      );
      await resend.close();
    }
  });
} finally {
}
