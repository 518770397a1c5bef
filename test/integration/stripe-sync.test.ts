import { sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestStripeSync, resumeStaleStripeSyncs, runStripeSync } from '../../src/domain/billing/adopt.ts';
import { PaymentsNotConfigured } from '../../src/domain/billing/billing.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/** The life of a Stripe sync run on a real PostgreSQL: queued once, never run twice, resumed after a crash. */
const ctx = { secret: TEST_SECRET, siteUrl: 'https://news.example.com' };
let t: TestDatabase;
let server: StripeTestServer;
let stripe: Stripe;
beforeAll(async () => {
  t = await createTestDatabase();
  server = await startStripeTestServer();
  stripe = new Stripe('sk_test_x', { host: '127.0.0.1', port: server.port, protocol: 'http', maxNetworkRetries: 0 });
  const product = await stripe.products.create({ name: 'Gold' });
  const price = await stripe.prices.create({ product: product.id, unit_amount: 500, currency: 'usd', recurring: { interval: 'month' } });
  await t.db
    .insertInto('tiers')
    .values({ slug: 'gold', name: 'Gold', paid: true, currency: 'usd', stripe_monthly_price_id: price.id, monthly_amount: 500 })
    .execute();
});
afterAll(async () => {
  await server?.close();
  await t?.drop();
});

async function jobsFor(syncId: string) {
  const { rows } = await sql<{ payload: { syncId: string }; key: string | null }>`
    select j.payload, j.key from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'stripe_sync' and j.payload->>'syncId' = ${syncId}`.execute(t.db);
  return rows;
}

describe('stripe sync runs', () => {
  it('queues one run with its job; asking again while it is open answers the same run', async () => {
    await expect(requestStripeSync(t.db, undefined, { via: 'admin', staffUserId: null })).rejects.toThrow(PaymentsNotConfigured);
    const first = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    const second = await requestStripeSync(t.db, stripe, { via: 'api', staffUserId: null });
    expect(second.id).toBe(first.id);
    expect(first.status).toBe('queued');
    expect(await jobsFor(first.id)).toHaveLength(1);
  });

  it('runs once: a job delivered again after the run finished does nothing', async () => {
    const [open] = await t.db.selectFrom('stripe_syncs').select('id').where('status', '=', 'queued').execute();
    const done = await runStripeSync(t.db, stripe, ctx, open!.id);
    expect(done).toMatchObject({ status: 'done', subscriptions: 0 });
    const requests = server.requests.length;
    const again = await runStripeSync(t.db, stripe, ctx, open!.id);
    expect(again.finishedAt).toEqual(done.finishedAt);
    expect(server.requests.length).toBe(requests); // Stripe not asked again
    expect((await t.db.selectFrom('stripe_syncs').select('attempts').where('id', '=', open!.id).executeTakeFirstOrThrow()).attempts).toBe(
      1,
    );
  });

  it('resumes a run whose worker was killed, and fails one interrupted too often instead of leaving it running', async () => {
    const killed = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    // What a kill -9 mid-run leaves: the row running, its job locked by a worker that is gone.
    await t.db
      .updateTable('stripe_syncs')
      .set({ status: 'running', attempts: 1, started_at: sql<Date>`now() - interval '20 minutes'` })
      .where('id', '=', killed.id)
      .execute();
    await sql`update graphile_worker._private_jobs set locked_at = now() - interval '20 minutes', locked_by = 'dead-worker'
      where payload->>'syncId' = ${killed.id}`.execute(t.db);
    // Staff asking again meanwhile get a new run: a stale one does not block them.
    const fresh = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    expect(fresh.id).not.toBe(killed.id);
    await runStripeSync(t.db, stripe, ctx, fresh.id);

    expect(await resumeStaleStripeSyncs(t.db)).toBe(1);
    const jobs = await jobsFor(killed.id);
    expect(jobs.length).toBe(2); // the dead worker's job, and a new one to run it again
    expect((await runStripeSync(t.db, stripe, ctx, killed.id)).status).toBe('done');
    expect(await resumeStaleStripeSyncs(t.db)).toBe(0);

    const unlucky = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    await t.db
      .updateTable('stripe_syncs')
      .set({ status: 'running', attempts: 3, started_at: sql<Date>`now() - interval '20 minutes'` })
      .where('id', '=', unlucky.id)
      .execute();
    expect(await resumeStaleStripeSyncs(t.db)).toBe(1);
    expect(
      await t.db.selectFrom('stripe_syncs').select(['status', 'error']).where('id', '=', unlucky.id).executeTakeFirstOrThrow(),
    ).toEqual({
      status: 'failed',
      error: 'The run was interrupted several times; start it again.',
    });
  });

  it('fails with a reason, writing nothing, when no tier has a Stripe price or payments are off', async () => {
    const noStripe = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    expect(await runStripeSync(t.db, undefined, ctx, noStripe.id)).toMatchObject({
      status: 'failed',
      error: 'Payments are not configured on this site.',
    });
    await t.db.updateTable('tiers').set({ stripe_monthly_price_id: null }).where('slug', '=', 'gold').execute();
    const noPrices = await requestStripeSync(t.db, stripe, { via: 'admin', staffUserId: null });
    const failed = await runStripeSync(t.db, stripe, ctx, noPrices.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^No paid tier has a Stripe price yet/);
  });
});
