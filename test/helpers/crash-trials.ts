import { spawn, type ChildProcess } from 'node:child_process';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { createSend, getSend } from '../../src/domain/sending/sends.ts';
import type { ResendTestServer } from '../servers/resend.ts';
import type { SmtpTestServer } from '../servers/smtp.ts';
import { CLI, cleanEnv, ROOT } from './server.ts';
import { makePost } from './sending.ts';
import { waitFor } from './wait.ts';

/**
 * The crash trial of the sending engine: a send to every member, run by real `hearth worker`
 * processes that are killed with SIGKILL at random moments (while preparing, mid-batch, between
 * the provider's answer and our write), then restarted, until the send is done. The verdict is
 * counted at the provider's test server (Resend-compatible, or the SMTP relay with `smtp`), by
 * recipient: every member exactly one email (on SMTP, see the README for the window in which a
 * crash repeats one).
 * Used by the test suite (a few trials) and bench/send-crash.ts (many).
 */
export interface TrialResult {
  recipients: number;
  kills: number;
  received: number;
  duplicates: number;
  losses: number;
  seconds: number;
  /** Emails recorded as posted when each kill landed (0: still preparing or booting). */
  postedAtKills: number[];
  /** SMTP journal rows (all trials so far) when each kill landed: messages the relay had answered. */
  journalAtKills: number[];
}

/** The provider the workers send through: the Resend-compatible server, or an SMTP relay. */
export type TrialProvider = { resend: ResendTestServer; smtp?: undefined } | { smtp: SmtpTestServer; resend?: undefined };

function providerEnv(provider: TrialProvider): Record<string, string> {
  if (provider.smtp) {
    // SMTP pays a slot per message; no real limit here, the relay's own speed paces the send.
    return { MAIL_PROVIDER: 'smtp', SMTP_URL: provider.smtp.url, SMTP_MAX_CONNECTIONS: '5', SEND_RATE_LIMIT: '2000' };
  }
  // 40 requests/s: a 20,000-recipient send takes about 5 s, so the kills land mid-send.
  return { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: provider.resend.url, SEND_RATE_LIMIT: '40' };
}

function startWorker(databaseUrl: string, provider: TrialProvider, secret: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: databaseUrl,
      APP_SECRET: secret,
      SITE_URL: 'https://news.example.com',
      ...providerEnv(provider),
      LOG_LEVEL: 'error',
    }),
    stdio: 'ignore',
  });
}

/** Emails posted so far: journal rows (SMTP, message by message) plus deliveries of posted batches. */
async function journalRows(db: Kysely<Database>): Promise<number> {
  return Number(
    (
      await db
        .selectFrom('smtp_journal')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
}

async function progress(db: Kysely<Database>, sendId: string): Promise<number> {
  return (await journalRows(db)) + (await getSend(db, sendId)).posted;
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

export async function crashTrial(
  db: Kysely<Database>,
  options: TrialProvider & {
    databaseUrl: string;
    secret: string;
    expected: string[];
    kills: number;
    random?: () => number;
    timeoutMs?: number;
    /** Kill each worker only after it has started posting (counted in the SMTP journal and in batches). */
    midSend?: boolean;
  },
): Promise<TrialResult> {
  const random = options.random ?? Math.random;
  if (options.smtp) options.smtp.received.length = 0;
  else options.resend.countByRecipient().clear();
  const server = options.smtp ?? options.resend;
  const postId = await makePost(db, { title: `Crash trial ${Date.now()}-${Math.floor(random() * 1e6)}` });
  const started = performance.now();
  const send = await createSend(db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
  const postedAtKills: number[] = [];
  const journalAtKills: number[] = [];
  for (let k = 0; k < options.kills; k++) {
    const worker = startWorker(options.databaseUrl, options, options.secret);
    if (options.midSend) {
      // Once this worker is posting (a new row in the SMTP journal or a batch marked), kill it
      // somewhere in the next 1.5 s: on a loaded machine a fixed delay lands while it boots.
      const before = await progress(db, send.id);
      await waitFor(() => progress(db, send.id), { until: (n) => n > before, timeout: 120_000, interval: 50, what: 'the worker to post' });
      await new Promise((r) => setTimeout(r, random() * 1500));
    } else {
      // A worker takes about a second to boot; kill it somewhere in its first seconds of work.
      await new Promise((r) => setTimeout(r, 800 + random() * 4000));
    }
    await killed(worker);
    postedAtKills.push((await getSend(db, send.id)).posted);
    journalAtKills.push(await journalRows(db));
  }
  const last = startWorker(options.databaseUrl, options, options.secret);
  try {
    const row = await waitFor(() => getSend(db, send.id), {
      until: (s) => ['sent', 'failed', 'cancelled'].includes(s.status),
      timeout: options.timeoutMs ?? 180_000,
      interval: 200,
      what: 'the send to finish',
    });
    if (row.status !== 'sent') throw new Error(`send ${row.status}: ${row.error}`);
  } finally {
    await killed(last);
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = server.countByRecipient();
  let duplicates = 0;
  let losses = 0;
  for (const address of options.expected) {
    const n = counts.get(address) ?? 0;
    if (n === 0) losses++;
    if (n > 1) duplicates += n - 1;
  }
  const strangers = [...counts.keys()].filter((a) => !options.expected.includes(a)).length;
  if (strangers > 0) throw new Error(`${strangers} addresses outside the segment got the send`);
  return {
    recipients: options.expected.length,
    kills: options.kills,
    received: counts.size,
    duplicates,
    losses,
    seconds: Number(seconds.toFixed(1)),
    postedAtKills,
    journalAtKills,
  };
}
