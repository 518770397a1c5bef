import { spawn, type ChildProcess } from 'node:child_process';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { createSend, getSend } from '../../src/domain/sending/sends.ts';
import type { ResendTestServer } from '../servers/resend.ts';
import { CLI, cleanEnv, ROOT } from './server.ts';
import { makePost } from './sending.ts';
import { waitFor } from './wait.ts';

/**
 * The crash trial of the sending engine: a send to every member, run by real `hearth worker`
 * processes that are killed with SIGKILL at random moments (while preparing, mid-batch, between
 * the provider's answer and our write), then restarted, until the send is done. The verdict is
 * counted at the Resend-compatible server, by recipient: every member exactly one email.
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
}

function startWorker(databaseUrl: string, resendUrl: string, secret: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: databaseUrl,
      APP_SECRET: secret,
      SITE_URL: 'https://news.example.com',
      RESEND_API_KEY: 're_test_key',
      RESEND_BASE_URL: resendUrl,
      // 40 requests/s: a 20,000-recipient send takes about 5 s, so the kills land mid-send.
      SEND_RATE_LIMIT: '40',
      LOG_LEVEL: 'error',
    }),
    stdio: 'ignore',
  });
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

export async function crashTrial(
  db: Kysely<Database>,
  options: {
    databaseUrl: string;
    resend: ResendTestServer;
    secret: string;
    expected: string[];
    kills: number;
    random?: () => number;
    timeoutMs?: number;
  },
): Promise<TrialResult> {
  const random = options.random ?? Math.random;
  options.resend.countByRecipient().clear();
  const postId = await makePost(db, { title: `Crash trial ${Date.now()}-${Math.floor(random() * 1e6)}` });
  const started = performance.now();
  const send = await createSend(db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
  const postedAtKills: number[] = [];
  for (let k = 0; k < options.kills; k++) {
    const worker = startWorker(options.databaseUrl, options.resend.url, options.secret);
    // A worker takes about a second to boot; kill it somewhere in its first seconds of work.
    await new Promise((r) => setTimeout(r, 800 + random() * 4000));
    await killed(worker);
    postedAtKills.push((await getSend(db, send.id)).posted);
  }
  const last = startWorker(options.databaseUrl, options.resend.url, options.secret);
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
  const counts = options.resend.countByRecipient();
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
  };
}
