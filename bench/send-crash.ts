/**
 * Crash trials of the sending engine: `hearth worker` processes killed with SIGKILL at random
 * points of a send, restarted, and every member counted at a local provider: the
 * Resend-compatible server, or (`smtp`) a local SMTP relay (smtp-server) behind the SMTP adapter.
 * Usage: npm run bench:send-crash -- [trials=10] [recipients=20000] [resend|smtp]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { crashTrial, type TrialProvider } from '../test/helpers/crash-trials.ts';
import { seedAudience } from '../test/helpers/sending.ts';
import { startResendTestServer } from '../test/servers/resend.ts';
import { startSmtpTestServer } from '../test/servers/smtp.ts';
import { withScratchDatabase } from './scratch.ts';

const trials = Number(process.argv[2] ?? 10);
const recipients = Number(process.argv[3] ?? 20_000);
const providerName = process.argv[4] ?? 'resend';
if (providerName !== 'resend' && providerName !== 'smtp') throw new Error(`provider must be resend or smtp, got ${providerName}`);
const provider: TrialProvider =
  providerName === 'smtp' ? { smtp: await startSmtpTestServer({ light: true }) } : { resend: await startResendTestServer({ light: true }) };
try {
  await withScratchDatabase('crash', { poolSize: 4 }, async (handle) => {
    await seedAudience(handle.db, recipients);
    const expected = Array.from({ length: recipients }, (_, i) => `reader${i + 1}@example.com`);
    let duplicates = 0;
    let losses = 0;
    let kills = 0;
    const perKill: number[] = [];
    for (let i = 0; i < trials; i++) {
      const result = await crashTrial(handle.db, {
        ...provider,
        databaseUrl: handle.url,
        secret: 'bench-secret-0123456789abcdef0123456789',
        expected,
        kills: 1 + (i % 3),
        // On SMTP the interesting kills are mid-batch, between the relay's 250 and the journal row.
        midSend: providerName === 'smtp',
      });
      duplicates += result.duplicates;
      losses += result.losses;
      kills += result.kills;
      perKill.push(result.duplicates / result.kills);
      console.log(JSON.stringify({ trial: i + 1, ...result }));
    }
    console.log(
      JSON.stringify({
        figure: 'send crash trials',
        provider: providerName,
        trials,
        recipients,
        kills,
        duplicates,
        losses,
        maxDuplicatesPerKill: Math.max(...perKill.map((d) => Math.ceil(d))),
      }),
    );
  });
} finally {
  await (provider.smtp ?? provider.resend)!.close();
}
