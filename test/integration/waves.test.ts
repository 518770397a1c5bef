import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueConfirmation, subscribe } from '../../src/domain/members/subscribe.ts';
import {
  addressPattern,
  browserClass,
  confirmationsInLastHour,
  isWave,
  networkOf,
  setConfirmationsCeiling,
  settleWave,
} from '../../src/domain/members/waves.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';

/**
 * Sign-up waves: a burst of one address pattern is held and alerted while normal sign-ups in the
 * same minute go through; a release mails each held one once; the hourly ceiling on confirmation
 * emails holds across networks.
 */
let t: TestDatabase;
const ctx = { secret: TEST_SECRET, siteUrl: 'http://hearth.test' };
const deps = { confirm: (db: never, m: never, n: never, key: string) => queueConfirmation(db, ctx, m, n, { idempotencyKey: key }) };
const CHROME = (v: number) =>
  `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0 Safari/537.36`;

async function confirmationsTo(address: string): Promise<number> {
  const r = await sql<{ n: number }>`
    select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'send_email' and (j.payload::jsonb)->'message'->'to' ? ${address}`.execute(t.db);
  return r.rows[0]!.n;
}
async function jobKeys(task: string) {
  const r = await sql<{ key: string | null }>`
    select j.key from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id where k.identifier = ${task}`.execute(
    t.db,
  );
  return r.rows.map((x) => x.key);
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
});
afterAll(async () => {
  await t?.drop();
});

describe('the pure parts', () => {
  it('shapes addresses, networks and browsers, and judges a rate against its normal', () => {
    expect(addressPattern('Jo.Smith42@Example.COM')).toBe('a.a9@example.com');
    expect(addressPattern('xk7q2@mail.test')).toBe('a9a9@mail.test');
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(browserClass(CHROME(126))).toBe('browser Chrome/126 Windows');
    expect(isWave(25, 0)).toBe(true);
    expect(isWave(19, 0)).toBe(false);
    expect(isWave(25, 4)).toBe(false); // a landing page that always brings this many
  });

  it('counts the confirmations of the last sixty minutes, across the turn of the hour', () => {
    // Five queued at 10:59, one second past 11:00: still about five (a clock-hour count said none).
    expect(confirmationsInLastHour({ hits: 0, prevHits: 5, elapsedSeconds: 1 })).toBeGreaterThan(4.99);
    expect(confirmationsInLastHour({ hits: 2, prevHits: 5, elapsedSeconds: 30 * 60 })).toBe(4.5);
    expect(confirmationsInLastHour({ hits: 3, prevHits: 5, elapsedSeconds: 3600 })).toBe(3);
  });
});

describe('waves through subscribe', () => {
  it('holds a burst of one pattern and alerts, lets normal sign-ups of the same minute through, and mails a released one once', async () => {
    const results: Array<{ email: string; queued: boolean }> = [];
    const normal = ['alice.smith@example.com', 'bob@example.org', 'carla-88@example.net', 'dan.o@example.io', 'eve@example.co'];
    for (let i = 1; i <= 25; i++) {
      const email = `zq${1000 + i}@bulk.example`;
      const r = await subscribe(t.db, ctx, { email, clientIp: `198.51.${i}.7`, userAgent: CHROME(100 + i) });
      results.push({ email, queued: r.confirmationQueued });
      if (i % 5 === 0) {
        const n = normal[i / 5 - 1]!;
        const ok = await subscribe(t.db, ctx, { email: n, clientIp: `203.0.${i}.9`, userAgent: CHROME(90 + i) });
        expect(ok.confirmationQueued, n).toBe(true);
      }
    }
    // Nineteen went out before the pattern was a wave; the twentieth opened it; the rest are held.
    expect(results.filter((r) => r.queued)).toHaveLength(19);
    expect(results.slice(19).every((r) => !r.queued)).toBe(true);
    for (const r of results.slice(19)) expect(await confirmationsTo(r.email)).toBe(0);
    for (const n of normal) expect(await confirmationsTo(n)).toBe(1);

    const wave = await t.db.selectFrom('signup_waves').selectAll().where('dimension', '=', 'pattern').executeTakeFirstOrThrow();
    expect(wave.key).toBe('a9@bulk.example');
    expect(wave.reason).toMatch(/20 sign-ups in 10 minutes/);
    // Held sign-ups are recorded members, visible and releasable.
    expect(await t.db.selectFrom('signup_holds').select('member_id').where('wave_id', '=', wave.id).execute()).toHaveLength(6);
    expect(await jobKeys('staff_alert')).toContain(`staff_alert:wave:${wave.id}`);
    expect((await t.db.selectFrom('live_events').select('type').where('type', '=', 'signup.wave').execute()).length).toBe(1);

    const first = await settleWave(t.db, deps as never, wave.id, 'release');
    expect(first.released).toBe(6);
    const again = await settleWave(t.db, deps as never, wave.id, 'release');
    expect(again.released).toBe(0);
    for (const r of results.slice(19)) expect(await confirmationsTo(r.email)).toBe(1);
  });

  it('holds confirmations past the hourly ceiling, across networks, and alerts once', async () => {
    await sql`delete from rate_limits`.execute(t.db);
    await setConfirmationsCeiling(t.db, 5);
    const names = ['fiona', 'george.k', 'hana-2', 'ivan.p.q', 'jules_x', 'kim.lee.9', 'lou', 'max.m'];
    const queued: boolean[] = [];
    for (const [i, n] of names.entries()) {
      queued.push(
        (await subscribe(t.db, ctx, { email: `${n}@ceiling${i}.example`, clientIp: `192.0.${i + 50}.3`, userAgent: CHROME(60 + i) }))
          .confirmationQueued,
      );
    }
    expect(queued).toEqual([true, true, true, true, true, false, false, false]);
    const wave = await t.db.selectFrom('signup_waves').selectAll().where('dimension', '=', 'ceiling').executeTakeFirstOrThrow();
    expect(await t.db.selectFrom('signup_holds').select('member_id').where('wave_id', '=', wave.id).execute()).toHaveLength(3);
    expect((await jobKeys('staff_alert')).filter((k) => k === `staff_alert:wave:${wave.id}`)).toHaveLength(1);
    // Dropped: never mailed.
    expect((await settleWave(t.db, deps as never, wave.id, 'drop')).dropped).toBe(3);
    expect(await confirmationsTo('lou@ceiling6.example')).toBe(0);
  });

  it('keeps the ceiling across the turn of the hour', async () => {
    await setConfirmationsCeiling(t.db, 5);
    const hour = async () =>
      (await sql<{ h: string }>`select floor(extract(epoch from now()) / 3600)::bigint::text as h`.execute(t.db)).rows[0]!.h;
    // Tried again in the rare case the hour turns between the counter written and the sign-up.
    for (let attempt = 0; attempt < 2; attempt++) {
      await sql`delete from rate_limits`.execute(t.db);
      const before = await hour();
      // The previous clock hour queued far more than the ceiling; this one none yet. Whatever the
      // minute now, the last sixty minutes hold more than five: the sign-up waits.
      await sql`insert into rate_limits (key, window_start, hits)
                values ('signup:confirmations', to_timestamp((${before}::bigint - 1) * 3600), 1000000000)`.execute(t.db);
      const r = await subscribe(t.db, ctx, {
        email: `turn${attempt}@hour.example`,
        clientIp: `192.0.${70 + attempt}.3`,
        userAgent: CHROME(80),
      });
      if ((await hour()) !== before) continue;
      expect(r.confirmationQueued).toBe(false);
      expect(await confirmationsTo(`turn${attempt}@hour.example`)).toBe(0);
      return;
    }
    throw new Error('the hour turned twice during this test');
  });
});
