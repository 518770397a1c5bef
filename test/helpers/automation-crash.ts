import { spawn, type ChildProcess } from 'node:child_process';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { createAutomation } from '../../src/domain/automations/automations.ts';
import { enterAutomations } from '../../src/domain/automations/enter.ts';
import type { ResendTestServer } from '../servers/resend.ts';
import { CLI, cleanEnv, ROOT } from './server.ts';
import { waitFor } from './wait.ts';

/**
 * The automation engine's crash trial: every member enters a two-email sequence (email, a wait in
 * seconds, email) at once; real `hearth worker` processes run it and are killed with SIGKILL at
 * random moments (mid-step, mid-batch, between the provider's answer and our write), then
 * restarted, until every member is through. The verdict is counted at the Resend-compatible
 * server by recipient and subject: each member exactly one of each email.
 * Used by test/integration/automation-crash.test.ts and bench/automations.ts.
 */
export interface AutomationTrial {
  members: number;
  kills: number;
  emails: number;
  duplicates: number;
  losses: number;
  seconds: number;
}

function startWorker(databaseUrl: string, resendUrl: string, secret: string, rate: number): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: databaseUrl,
      APP_SECRET: secret,
      SITE_URL: 'https://news.example.com',
      RESEND_API_KEY: 're_test_key',
      RESEND_BASE_URL: resendUrl,
      SEND_RATE_LIMIT: String(rate),
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

export async function automationCrashTrial(
  db: Kysely<Database>,
  options: {
    databaseUrl: string;
    resend: ResendTestServer;
    secret: string;
    memberIds: string[];
    emailsOf: (id: string) => string;
    kills: number;
    rate: number;
  },
): Promise<AutomationTrial> {
  const tag = `${Date.now()}`;
  const a = await createAutomation(
    db,
    'https://news.example.com',
    {
      name: `Crash trial ${tag}`,
      trigger: { type: 'subscription_confirmed' },
      status: 'live',
      steps: [
        { type: 'email', subject: `First ${tag}`, markdown: 'One.' },
        { type: 'wait', duration: 'PT1S' },
        { type: 'email', subject: `Second ${tag}`, markdown: 'Two.' },
      ],
    },
    null,
  );
  options.resend.countByRecipient().clear();
  const started = performance.now();
  await enterAutomations(db, 'subscription_confirmed', options.memberIds);
  for (let k = 0; k < options.kills; k++) {
    const worker = startWorker(options.databaseUrl, options.resend.url, options.secret, options.rate);
    // A worker boots in about a second; kill it somewhere in its first seconds of work.
    await new Promise((r) => setTimeout(r, 900 + Math.random() * 2500));
    await killed(worker);
  }
  const last = startWorker(options.databaseUrl, options.resend.url, options.secret, options.rate);
  try {
    await waitFor(
      async () => {
        const r = await sql<{ open: number; batches: number }>`
          select (select count(*) from automation_members where automation_id = ${a.id} and status = 'active')::int as open,
                 (select count(*) from automation_batches where automation_id = ${a.id} and status <> 'posted')::int as batches
        `.execute(db);
        return r.rows[0]!;
      },
      { until: (s) => s.open === 0 && s.batches === 0, timeout: 240_000, interval: 250, what: 'every member through the sequence' },
    );
  } finally {
    await killed(last);
  }
  const seconds = (performance.now() - started) / 1000;
  // The server (light mode) counts emails by recipient: each member gets exactly the two emails.
  const counts = options.resend.countByRecipient();
  let duplicates = 0;
  let losses = 0;
  let emails = 0;
  for (const id of options.memberIds) {
    const n = counts.get(options.emailsOf(id)) ?? 0;
    emails += Math.min(n, 2);
    if (n < 2) losses += 2 - n;
    if (n > 2) duplicates += n - 2;
  }
  return {
    members: options.memberIds.length,
    kills: options.kills,
    emails,
    duplicates,
    losses,
    seconds: Number(seconds.toFixed(1)),
  };
}
