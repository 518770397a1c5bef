import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAutomation } from '../../src/domain/automations/automations.ts';
import { runDueStep, type AutomationDeps } from '../../src/domain/automations/engine.ts';
import { enterAutomations } from '../../src/domain/automations/enter.ts';
import { bulkMerge } from '../../src/domain/imports/merge.ts';
import { createImport, getImport, runImport, startImport } from '../../src/domain/imports/pipeline.ts';
import { bulkAction, createMember, updateMember } from '../../src/domain/members/manage.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { UNLIMITED } from '../../src/lib/mail-rate.ts';
import { createOutboxMailer } from '../../src/lib/mailer/outbox.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import type { ApiDeps } from '../../src/web/api/route.ts';
import { PATCH as patchMember } from '../../src/pages/api/v1/members/[id].ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';

/**
 * label_added automations, whichever path adds the label: the staff API, the admin (a member's
 * page and the bulk action), an import (ordinary and bulk merges), an automation's own label
 * step. Each label added enters once; a label the member already had enters no one; and a member
 * enters a given automation at most once, ever (the re-entry rule, README "Automations").
 */
const SITE = 'https://news.example.com';
let t: TestDatabase;
let vip: string;

beforeEach(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true, sort_order: 0 }).execute();
  vip = (
    await createAutomation(
      t.db,
      SITE,
      { name: 'VIP welcome', trigger: { type: 'label_added', label: 'VIP' }, steps: [{ type: 'wait', duration: 'PT1H' }], status: 'live' },
      null,
    )
  ).id;
});
afterEach(async () => {
  bulkMerge.minNewMembers = 50_000;
  await t.drop();
});

/** Who is in the VIP automation, by address, and its first step's `entered` counter. */
async function inVip(): Promise<{ emails: string[]; entered: number }> {
  const rows = await t.db
    .selectFrom('automation_members as am')
    .innerJoin('members as m', 'm.id', 'am.member_id')
    .select('m.email')
    .where('am.automation_id', '=', vip)
    .orderBy('m.email')
    .execute();
  const step = await t.db
    .selectFrom('automation_steps')
    .select('entered')
    .where('automation_id', '=', vip)
    .where('position', '=', 1)
    .executeTakeFirstOrThrow();
  return { emails: rows.map((r) => r.email), entered: step.entered };
}

const member = (email: string, labels: string[] = []) => createMember(t.db, { email, status: 'active', newsletters: ['weekly'], labels });

async function importCsv(body: string) {
  const created = await createImport(t.db, {
    filename: 'members.csv',
    body: (async function* () {
      yield Buffer.from(body);
    })(),
  });
  await startImport(t.db, created.id, { markConfirmed: true, attestation: 'They signed up at our stand.' });
  await runImport(t.db, t.pool, created.id);
  const done = await getImport(t.db, created.id);
  expect(done.status).toBe('done');
}

describe('label_added automations', () => {
  it('enter from the staff API and the admin, once per label added', async () => {
    const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
    const deps: ApiDeps = {
      db: t.db,
      siteUrl: SITE,
      stripe: undefined,
      staff: { id: owner.id, email: owner.email, name: owner.name, role: owner.role },
    };
    const ann = await member('ann@example.com');
    const patch = (labels: string[]) =>
      patchMember.handle(new Request(`${SITE}/api/v1/members/${ann}`, { method: 'PATCH', body: JSON.stringify({ labels }) }), deps, {
        id: ann,
      });
    expect((await patch(['vip'])).status).toBe(200);
    expect(await inVip()).toEqual({ emails: ['ann@example.com'], entered: 1 });
    // The label kept while another is added: nothing new.
    expect((await patch(['vip', 'reader'])).status).toBe(200);
    expect(await inVip()).toEqual({ emails: ['ann@example.com'], entered: 1 });

    // The admin's member page (updateMember) and its bulk action.
    const bob = await member('bob@example.com');
    await updateMember(t.db, bob, { labels: ['Vip'] });
    await member('cat@example.com');
    await member('dan@example.com', ['vip']);
    // All four match; only cat lacks the label, so only cat enters by it.
    expect(await bulkAction(t.db, {}, { kind: 'add_label', label: 'vip' }, 4)).toBe(1);
    expect(await inVip()).toEqual({
      emails: ['ann@example.com', 'bob@example.com', 'cat@example.com', 'dan@example.com'],
      entered: 4,
    });
  });

  it('only active members enter', async () => {
    await createMember(t.db, { email: 'pending@example.com', status: 'pending', labels: ['vip'] });
    expect(await inVip()).toEqual({ emails: [], entered: 0 });
  });

  it('enter from an import: new members, and existing members the import gives the label', async () => {
    await member('had@example.com', ['vip']);
    await sql`delete from automation_members`.execute(t.db); // had the label before the automation
    await sql`update automation_steps set entered = 0`.execute(t.db);
    await member('old@example.com');
    await importCsv(
      'email,name,tags\nnew@example.com,New,vip\nold@example.com,Old,"vip,fan"\nhad@example.com,Had,vip\nplain@example.com,Plain,fan\n',
    );
    // had@ already had the label: the import adds nothing, so it enters nothing.
    expect(await inVip()).toEqual({ emails: ['new@example.com', 'old@example.com'], entered: 2 });
    // The lanes are asked for now, not at the watchdog's next minute.
    const lanes = await sql<{ key: string }>`select key from graphile_worker.jobs where task_identifier = 'automation_lane'`.execute(t.db);
    expect(lanes.rows.length).toBeGreaterThan(0);
  });

  it('enter from a bulk import (the merge that rebuilds indexes)', async () => {
    bulkMerge.minNewMembers = 3;
    const rows = Array.from({ length: 6 }, (_, i) => `bulk${i}@example.com,Bulk ${i},${i % 2 ? 'vip' : 'fan'}`);
    await importCsv(`email,name,tags\n${rows.join('\n')}\n`);
    expect(await inVip()).toEqual({ emails: ['bulk1@example.com', 'bulk3@example.com', 'bulk5@example.com'], entered: 3 });
  });

  it("enter from another automation's label step, once", async () => {
    const tagger = await createAutomation(
      t.db,
      SITE,
      {
        name: 'Tagger',
        trigger: { type: 'label_added', label: 'starter' },
        steps: [
          { type: 'label', add: 'vip' },
          { type: 'label', add: 'vip' },
        ],
        status: 'live',
      },
      null,
    );
    const eve = await member('eve@example.com', ['starter']);
    const deps: AutomationDeps = {
      db: t.db,
      mailer: createOutboxMailer(t.db, { from: 'letters@example.com' }),
      limiter: UNLIMITED,
      keys: siteKeys({ appSecret: TEST_SECRET, siteUrl: SITE }),
      mailFrom: 'letters@example.com',
      retry: { maxAttempts: 3, baseSeconds: 1, maxSeconds: 1 },
      owner: 'test-1',
    };
    while ((await runDueStep(deps)) > 0) {
      const done = await t.db
        .selectFrom('automation_members')
        .select('status')
        .where('automation_id', '=', tagger.id)
        .where('member_id', '=', eve)
        .executeTakeFirstOrThrow();
      if (done.status === 'done') break;
    }
    expect(await inVip()).toEqual({ emails: ['eve@example.com'], entered: 1 });
  });

  it('a member enters an automation at most once, ever (no re-entry)', async () => {
    const fay = await member('fay@example.com', ['vip']);
    // Finished, then the label is removed and added again: no second entry.
    await sql`update automation_members set status = 'done', step_id = null, finished_at = now() where member_id = ${fay}`.execute(t.db);
    await updateMember(t.db, fay, { labels: [] });
    await updateMember(t.db, fay, { labels: ['vip'] });
    expect(await inVip()).toEqual({ emails: ['fay@example.com'], entered: 1 });
    const row = await t.db.selectFrom('automation_members').select('status').where('member_id', '=', fay).executeTakeFirstOrThrow();
    expect(row.status).toBe('done');

    // The same for a confirmation: unsubscribed and back, the welcome sequence is not sent again.
    const welcome = await createAutomation(
      t.db,
      SITE,
      { name: 'Welcome', trigger: { type: 'subscription_confirmed' }, steps: [{ type: 'wait', duration: 'PT1H' }], status: 'live' },
      null,
    );
    expect(await enterAutomations(t.db, 'subscription_confirmed', [fay])).toBe(1);
    await updateMember(t.db, fay, { status: 'unsubscribed' });
    await updateMember(t.db, fay, { status: 'active' });
    expect(await enterAutomations(t.db, 'subscription_confirmed', [fay])).toBe(0);
    const rows = await t.db.selectFrom('automation_members').select(['status', 'reason']).where('automation_id', '=', welcome.id).execute();
    expect(rows).toEqual([{ status: 'left', reason: 'unsubscribed' }]);
  });
});
