/**
 * Crash trials of the sending engine: `hearth worker` processes killed with SIGKILL at random
 * points of a send, restarted, and every member counted at a local Resend-compatible server.
 * Usage: npm run bench:send-crash -- [trials=10] [recipients=20000]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { crashTrial } from '../test/helpers/crash-trials.ts';
import { seedAudience } from '../test/helpers/sending.ts';
import { startResendTestServer } from '../test/servers/resend.ts';
import { withScratchDatabase } from './scratch.ts';

const trials = Number(process.argv[2] ?? 10);
const recipients = Number(process.argv[3] ?? 20_000);
const resend = await startResendTestServer({ light: true });
try {
  await withScratchDatabase('crash', { poolSize: 4 }, async (handle) => {
    await seedAudience(handle.db, recipients);
    const expected = Array.from({ length: recipients }, (_, i) => `reader${i + 1}@example.com`);
    let duplicates = 0;
    let losses = 0;
    let kills = 0;
    for (let i = 0; i < trials; i++) {
      const result = await crashTrial(handle.db, {
        databaseUrl: handle.url,
        resend,
        secret: 'bench-secret-0123456789abcdef0123456789',
        expected,
        kills: 1 + (i % 3),
      });
      duplicates += result.duplicates;
      losses += result.losses;
      kills += result.kills;
      console.log(JSON.stringify({ trial: i + 1, ...result }));
    }
    console.log(JSON.stringify({ figure: 'send crash trials', trials, recipients, kills, duplicates, losses }));
  });
} finally {
  await resend.close();
}
