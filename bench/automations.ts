/**
 * The automation engine at scale. N members (default 100,000) enter an automation at once:
 * 1. through an email step at the provider's rate (the shared limiter at RATE requests/s against
 *    the local Resend-compatible server): the time until every member's email is posted, against
 *    the floor N / 100 / RATE seconds (100 emails a request);
 * 2. the engine's own cost per step: a label step for every member, then an email step with no
 *    rate limit (the test server answers at once), in member-steps per second and ms per member.
 * Four lanes run in process, as a worker's bulk runner would. Prints JSON lines.
 * Usage: node bench/automations.ts [members=100000] [rate=50]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded PostgreSQL.
 */
import { sql } from 'kysely';
import { withScratchDatabase } from './scratch.ts';
import { createAutomation } from '../src/domain/automations/automations.ts';
import { runAutomationLane, type AutomationDeps } from '../src/domain/automations/engine.ts';
import { enterAutomations } from '../src/domain/automations/enter.ts';
import { AUTOMATION_LANES } from '../src/domain/automations/jobs.ts';
import { DEFAULT_RETRY } from '../src/domain/sending/lifecycle.ts';
import { createRateLimiter, UNLIMITED, type RateLimiter } from '../src/lib/mail-rate.ts';
import { createResendMailer } from '../src/lib/mailer/resend.ts';
import { siteKeys } from '../src/lib/site-keys.ts';
import { seedAudience } from '../test/helpers/sending.ts';
import { startResendTestServer } from '../test/servers/resend.ts';

const members = Number(process.argv[2] ?? 100_000);
const rate = Number(process.argv[3] ?? 50);
const SITE = 'https://news.example.com';

await withScratchDatabase('automations', { poolSize: 10 }, async (handle) => {
  const db = handle.db;
  await seedAudience(db, members);
  const ids = (await sql<{ id: string }>`select id from members order by id`.execute(db)).rows.map((r) => String(r.id));
  const resend = await startResendTestServer({ light: true });
  const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: 'Bench <b@example.com>' });
  const deps = (limiter: RateLimiter): AutomationDeps => ({
    db,
    mailer,
    limiter,
    keys: siteKeys({ appSecret: 'bench-secret-0123456789abcdef0123456789', siteUrl: SITE }),
    mailFrom: 'Bench <b@example.com>',
    retry: DEFAULT_RETRY,
    owner: `bench-${process.pid}`,
  });
  /** Lanes until no member of the automation is active and no batch is open. */
  async function runUntilDone(automationId: string, limiter: RateLimiter): Promise<number> {
    const started = performance.now();
    const open = async () => {
      const r = await sql<{ n: number }>`
        select ((select count(*) from automation_members where automation_id = ${automationId} and status = 'active')
              + (select count(*) from automation_batches where automation_id = ${automationId} and status <> 'posted'))::int as n`.execute(
        db,
      );
      return r.rows[0]!.n;
    };
    await Promise.all(
      Array.from({ length: AUTOMATION_LANES }, async () => {
        while ((await open()) > 0) await runAutomationLane(deps(limiter), { runForMs: 2_000 });
      }),
    );
    return (performance.now() - started) / 1000;
  }
  const make = (name: string, steps: Parameters<typeof createAutomation>[2]['steps']) =>
    createAutomation(db, SITE, { name, trigger: { type: 'subscription_confirmed' }, status: 'live', steps }, null);

  // 1. At the provider's rate.
  await sql`delete from mail_rate`.execute(db);
  const welcome = await make('Welcome', [
    { type: 'email', subject: 'Welcome', markdown: 'Hello {{name}}, [our best posts](https://news.example.com/posts).' },
  ]);
  let t0 = performance.now();
  await enterAutomations(db, 'subscription_confirmed', ids);
  const enterSeconds = (performance.now() - t0) / 1000;
  const seconds = await runUntilDone(welcome.id, createRateLimiter(db, { requestsPerSecond: rate }));
  const floor = members / 100 / rate;
  console.log(
    JSON.stringify({
      figure: 'members entering at once, through an email step at the provider rate',
      members,
      rate,
      enter_s: Number(enterSeconds.toFixed(2)),
      all_posted_s: Number(seconds.toFixed(1)),
      floor_s: Number(floor.toFixed(1)),
      share_of_rate: Number((floor / seconds).toFixed(3)),
      emails_received: resend.countByRecipient().size,
    }),
  );
  await sql`update automations set status = 'paused'`.execute(db);

  // 2. The engine's own cost: a label step, then an email step with no rate limit.
  await sql`truncate automation_members, automation_batches, automation_deliveries cascade`.execute(db);
  const cost = await make('Cost', [{ type: 'label', add: 'bench' }]);
  t0 = performance.now();
  await enterAutomations(db, 'subscription_confirmed', ids);
  const labelSeconds = await runUntilDone(cost.id, UNLIMITED);
  await sql`update automations set status = 'paused'`.execute(db);
  await sql`truncate automation_members, automation_batches, automation_deliveries cascade`.execute(db);
  const email = await make('Cost email', [{ type: 'email', subject: 'Cost', markdown: 'Hello {{name}}.' }]);
  await enterAutomations(db, 'subscription_confirmed', ids);
  const emailSeconds = await runUntilDone(email.id, UNLIMITED);
  console.log(
    JSON.stringify({
      figure: 'engine cost per step (4 lanes, no rate limit)',
      members,
      label_step_s: Number(labelSeconds.toFixed(1)),
      label_member_steps_per_s: Math.round(members / labelSeconds),
      label_ms_per_member: Number(((labelSeconds * 1000) / members).toFixed(3)),
      email_step_s: Number(emailSeconds.toFixed(1)),
      email_member_steps_per_s: Math.round(members / emailSeconds),
      email_ms_per_member: Number(((emailSeconds * 1000) / members).toFixed(3)),
    }),
  );
  await resend.close();
});
