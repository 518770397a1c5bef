import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installChecklist, type Checklist, type InstallConfig } from '../../src/domain/install/checklist.ts';
import { clearDnsCache } from '../../src/domain/install/dns-records.ts';
import { latestTestEmail, queueTestEmail, sendTestEmail } from '../../src/domain/install/test-email.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { createDnsLookup, type DnsAnswer } from '../../src/lib/dns.ts';
import { createOutboxMailer } from '../../src/lib/mailer/outbox.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startDnsTestServer, type DnsTestServer } from '../servers/dns.ts';

/**
 * The install checklist on an empty database, against a real DNS server on UDP (test/servers/dns.ts):
 * missing records come with the record to add and turn green once added; a server that never
 * answers gives "could not check" within the timeout; the test email goes through the queue once.
 */
let t: TestDatabase;
let dns: DnsTestServer;
let staffId = '';
const base: InstallConfig = {
  siteUrl: 'http://127.0.0.1:4321',
  mailFrom: 'Brand News <letters@brand.org>',
  resend: undefined,
  stripe: undefined,
};

beforeAll(async () => {
  t = await createTestDatabase();
  dns = await startDnsTestServer();
  staffId = (await createStaffUser(t.db, { email: 'owner@brand.org', password: 'a long owner password', role: 'owner' })).id;
});
afterAll(async () => {
  await dns?.close();
  await t?.drop();
});
beforeEach(() => clearDnsCache());

const lookup = () => createDnsLookup({ servers: [dns.address], timeoutMs: 800 });
const item = (c: Checklist, id: string) => c.items.find((i) => i.id === id)!;

describe('the install checklist', () => {
  it('on an empty install: every line to do, each with its fix', async () => {
    const c = await installChecklist(t.db, base, lookup());
    expect(c.ready).toBe(false);
    expect(c.items.map((i) => [i.id, i.state])).toEqual([
      ['newsletter', 'todo'],
      ['sender', 'done'],
      ['spf', 'todo'],
      ['dkim', 'todo'],
      ['dmarc', 'todo'],
      ['resend', 'todo'],
      ['resend_webhook', 'todo'],
      ['stripe', 'todo'],
      ['stripe_webhook', 'todo'],
      ['site_url', 'todo'],
      ['postal_address', 'todo'],
      ['test_email', 'todo'],
    ]);
    expect(item(c, 'spf').record).toEqual({ type: 'TXT', name: 'send.brand.org', value: 'v=spf1 include:amazonses.com ~all' });
    expect(item(c, 'dkim').record).toMatchObject({ type: 'TXT', name: 'resend._domainkey.brand.org' });
    expect(item(c, 'dmarc').record).toMatchObject({
      type: 'TXT',
      name: '_dmarc.brand.org',
      value: expect.stringMatching(/^v=DMARC1; p=none/),
    });
    expect(item(c, 'stripe_webhook').webhook).toEqual({
      url: 'http://127.0.0.1:4321/webhooks/stripe',
      events: expect.arrayContaining(['checkout.session.completed', 'customer.subscription.updated', 'invoice.payment_failed']),
    });
    expect(item(c, 'resend_webhook').webhook!.events).toEqual(expect.arrayContaining(['email.bounced', 'email.complained']));
    expect(item(c, 'newsletter').detail).toMatch(/create one/);
    // The lookups went to our server.
    expect(dns.questions).toEqual(
      expect.arrayContaining(['TXT send.brand.org', 'TXT resend._domainkey.brand.org', 'TXT _dmarc.brand.org']),
    );
  });

  it('turns the DNS lines green when the records are added (a CNAME counts for SPF and DKIM), after a fresh check', async () => {
    dns.records.set('send.brand.org', { txt: ['v=spf1 include:amazonses.com ~all'] });
    dns.records.set('resend._domainkey.brand.org', { cname: 'brand.org.dkim.resend-dns.example.net' });
    dns.records.set('_dmarc.brand.org', { txt: ['v=DMARC1; p=quarantine'] });
    // Cached answers are kept a minute: the page's "Check again" asks afresh.
    const c = await installChecklist(t.db, base, lookup(), { fresh: true });
    expect([item(c, 'spf').state, item(c, 'dkim').state, item(c, 'dmarc').state]).toEqual(['done', 'done', 'done']);
    expect(item(c, 'dkim').record).toBeUndefined();
    expect(item(c, 'dkim').detail).toContain('CNAME resend._domainkey.brand.org');
    // A TXT key under the selector counts too; a record of another kind at the name does not.
    dns.records.set('resend._domainkey.brand.org', { txt: [`p=${'A'.repeat(300)}`] });
    dns.records.set('_dmarc.brand.org', { txt: ['v=spf1 -all'] });
    const again = await installChecklist(t.db, base, lookup(), { fresh: true });
    expect(item(again, 'dkim').state).toBe('done');
    expect(item(again, 'dmarc').state).toBe('todo');
    expect(item(again, 'dmarc').record).toBeDefined();
  });

  it('says "could not check" quickly when the DNS server does not answer', async () => {
    dns.silent = true;
    try {
      const before = dns.questions.length;
      // One 800 ms timeout, not one per question: every lookup is asked before any has ended (asked
      // one after another, each would wait for the last one's timeout). Counted as lookups in
      // flight at once, not timed: a busy machine stretches times, not this count.
      let inFlight = 0;
      let calls = 0;
      let most = 0;
      const dnsLookup = lookup();
      const counted = async (ask: () => Promise<DnsAnswer>) => {
        calls++;
        most = Math.max(most, ++inFlight);
        try {
          return await ask();
        } finally {
          inFlight--;
        }
      };
      const c = await installChecklist(
        t.db,
        base,
        { txt: (name) => counted(() => dnsLookup.txt(name)), cname: (name) => counted(() => dnsLookup.cname(name)) },
        { fresh: true },
      );
      expect(calls).toBeGreaterThanOrEqual(3);
      expect(most).toBe(calls);
      expect(dns.questions.length - before).toBe(calls); // each went to the silent server
      for (const id of ['spf', 'dkim', 'dmarc']) {
        expect(item(c, id).state).toBe('unknown');
        expect(item(c, id).detail).toMatch(/^Could not check/);
      }
      expect(c.ready).toBe(false);
    } finally {
      dns.silent = false;
    }
  });

  it('makes no DNS lookup for a sender on localhost, and asks to set MAIL_FROM', async () => {
    const asked = dns.questions.length;
    const c = await installChecklist(t.db, { ...base, mailFrom: 'Hearth <hearth@localhost>' }, lookup());
    expect(dns.questions.length).toBe(asked);
    expect(item(c, 'sender')).toMatchObject({ state: 'todo', detail: expect.stringMatching(/set MAIL_FROM/) });
    expect(c.items.map((i) => i.id)).not.toContain('spf');
  });

  it('sends the test email once through the queue, even when the job runs again after a crash', async () => {
    await expect(queueTestEmail(t.db, { staffUserId: staffId, to: 'not an address' })).rejects.toThrow(/test email/);
    const { id } = await queueTestEmail(t.db, { staffUserId: staffId, to: 'Owner@Brand.org' });
    const jobs = await sql<{
      n: number;
    }>`select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id where k.identifier = 'install_test_email' and j.payload->>'testId' = ${id}`.execute(
      t.db,
    );
    expect(jobs.rows[0]!.n).toBe(1);
    let c = await installChecklist(t.db, base, lookup());
    expect(item(c, 'test_email')).toMatchObject({ state: 'todo', detail: expect.stringMatching(/Queued for owner@brand.org/) });

    const mailer = createOutboxMailer(t.db, { from: base.mailFrom });
    const ctx = { siteUrl: base.siteUrl, from: base.mailFrom };
    expect(await sendTestEmail(t.db, mailer, ctx, id)).toBe('sent');
    // Killed after the provider took it, before the row was marked: the retried job posts the same key.
    await t.db.updateTable('install_test_emails').set({ sent_at: null }).where('id', '=', id).execute();
    expect(await sendTestEmail(t.db, mailer, ctx, id)).toBe('sent');
    expect(await sendTestEmail(t.db, mailer, ctx, id)).toBe('nothing');
    const outbox = await t.db.selectFrom('outbox').select(['to_addresses', 'subject']).execute();
    expect(outbox).toEqual([{ to_addresses: ['owner@brand.org'], subject: 'Test email from Hearth' }]);
    expect((await latestTestEmail(t.db))!.sent_at).toBeInstanceOf(Date);
    c = await installChecklist(t.db, base, lookup());
    expect(item(c, 'test_email').state).toBe('done');
  });

  it('counts only newsletters that are not archived: an archived one leaves the line to do', async () => {
    await sql`insert into newsletters (slug, name, archived_at) values ('old', 'Old', now())`.execute(t.db);
    const c = await installChecklist(t.db, base, lookup());
    expect(item(c, 'newsletter').state).toBe('todo');
  });

  it('is ready when every line is done', async () => {
    await sql`insert into newsletters (slug, name, is_default) values ('weekly', 'Weekly', true)`.execute(t.db);
    await saveSiteSettings(t.db, { postalAddress: '12 Roastery Lane, Portland, OR 97201' });
    dns.records.set('_dmarc.brand.org', { txt: ['v=DMARC1; p=reject'] });
    const c = await installChecklist(
      t.db,
      {
        siteUrl: 'https://news.brand.org',
        mailFrom: base.mailFrom,
        resend: { apiKey: 're_x', baseUrl: undefined, webhookSecret: 'whsec_x' },
        stripe: { secretKey: 'sk_x', webhookSecret: 'whsec_y', apiBase: undefined },
      },
      lookup(),
      { fresh: true },
    );
    expect(c.items.filter((i) => i.state !== 'done')).toEqual([]);
    expect(item(c, 'newsletter').detail).toBe('1 newsletter.');
    expect(c.ready).toBe(true);
  });
});
