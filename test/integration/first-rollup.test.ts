import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueFirstRollup } from '../../src/domain/stats/first-rollup.ts';
import { statsOverview } from '../../src/domain/stats/read.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createOutboxMailer } from '../../src/lib/mailer/outbox.ts';
import { UNLIMITED } from '../../src/lib/mail-rate.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { startWorker } from '../../src/worker.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

/** A site that was never rolled up (members added without the demo's seed) has Stats right after the worker starts. */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await sql`
    insert into members (email, status, tier_id, source_platform, referral_code, confirmed_at)
    select 'first' || g || '@example.com', 'active', (select id from tiers where slug = 'free'), 'instagram', 'firstcode' || g, now()
    from generate_series(1, 7) g
  `.execute(t.db);
});
afterAll(async () => {
  await t?.drop();
});

describe('the first stats rollup', () => {
  it('is queued when the worker starts on a site never rolled up, and runs at once', async () => {
    expect((await statsOverview(t.db)).members.total).toBe(0);
    const config = { ...loadConfig({ SITE_URL: 'https://news.example.com' }), appSecret: TEST_SECRET };
    const runtime: Runtime = {
      config,
      keys: siteKeys(config),
      db: t.db,
      mailer: createOutboxMailer(t.db, { from: config.mailFrom }),
      stripe: undefined,
    };
    const worker = await startWorker(runtime, t.pool, { limiter: UNLIMITED });
    try {
      const overview = await waitFor(() => statsOverview(t.db), {
        until: (o) => o.members.total === 7,
        timeout: 20_000,
        what: 'the first rollup',
      });
      expect(overview.as_of).not.toBeNull();
    } finally {
      await worker.stop();
    }
    // Rolled up once: a later start queues nothing (the ten-minute crontab takes over).
    expect(await queueFirstRollup(t.db)).toBe(false);
  }, 40_000);
});
