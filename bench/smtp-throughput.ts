/**
 * The SMTP adapter's own speed: messages a second through one mailer (the worker's pool of
 * SMTP_MAX_CONNECTIONS connections, default 5) to a local SMTP relay, with 8 batches of 100 in
 * flight at once as the worker's lanes post them, each message journaled in PostgreSQL before
 * its batch is answered. Usage: node bench/smtp-throughput.ts [messages=20000] [connections=5]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { withScratchDatabase } from './scratch.ts';
import { createSmtpMailer } from '../src/lib/mailer/smtp.ts';
import { startSmtpTestServer } from '../test/servers/smtp.ts';

const total = Number(process.argv[2] ?? 20_000);
const connections = Number(process.argv[3] ?? 5);
const LANES = 8;
const BATCH = 100;
const smtp = await startSmtpTestServer({ light: true });
try {
  await withScratchDatabase('smtp', { poolSize: 16 }, async (handle) => {
    const mailer = createSmtpMailer(handle.db, { url: smtp.url, from: 'Bench <bench@example.com>', maxConnections: connections });
    const batches = Math.ceil(total / BATCH);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (next < batches) {
          const b = next++;
          const messages = Array.from({ length: BATCH }, (_, i) => ({ to: [`r${b}-${i}@example.com`], subject: 'Bench', text: 'Hello.' }));
          const result = await mailer.sendBatch(messages, { idempotencyKey: `bench-${b}` });
          if (!result.ok) throw new Error(result.error.message);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await mailer.close();
    console.log(
      JSON.stringify({
        figure: 'smtp messages per second',
        messages: batches * BATCH,
        connections,
        received: smtp.received.length,
        seconds: Number(seconds.toFixed(2)),
        perSecond: Math.round((batches * BATCH) / seconds),
      }),
    );
  });
} finally {
  await smtp.close();
}
