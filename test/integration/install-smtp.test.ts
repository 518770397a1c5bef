import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installChecklist, type Checklist, type InstallConfig } from '../../src/domain/install/checklist.ts';
import { createDnsLookup } from '../../src/lib/dns.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startDnsTestServer, type DnsTestServer } from '../servers/dns.ts';

/** The install checklist when email goes through an SMTP relay: no "set RESEND_API_KEY" to-do. */
let t: TestDatabase;
let dns: DnsTestServer;
const smtp: InstallConfig = {
  siteUrl: 'http://127.0.0.1:4321',
  mailFrom: 'Brand News <letters@brand.org>',
  resend: undefined,
  stripe: undefined,
  mailProvider: 'smtp',
  smtp: { url: 'smtps://user:pass@email-smtp.eu-west-1.amazonaws.com', maxConnections: 5 },
  inboundMail: { sesTopicArns: undefined, postmarkToken: undefined, mailgunSigningKey: undefined },
};

beforeAll(async () => {
  t = await createTestDatabase();
  dns = await startDnsTestServer();
});
afterAll(async () => {
  await dns?.close();
  await t?.drop();
});

const item = (c: Checklist, id: string) => c.items.find((i) => i.id === id)!;
const check = (config: InstallConfig) =>
  installChecklist(t.db, config, createDnsLookup({ servers: [dns.address], timeoutMs: 800 }), { fresh: true });

describe('the checklist with MAIL_PROVIDER=smtp', () => {
  it('names the relay as the provider, and asks for its bounce webhook until one is set', async () => {
    const before = await check(smtp);
    expect(item(before, 'resend')).toMatchObject({ state: 'done', title: 'Mail provider (SMTP relay)' });
    expect(item(before, 'resend').detail).toContain('email-smtp.eu-west-1.amazonaws.com');
    expect(item(before, 'resend_webhook').state).toBe('todo');
    expect(item(before, 'resend_webhook').detail).toContain('/webhooks/ses');
    const after = await check({ ...smtp, inboundMail: { ...smtp.inboundMail!, postmarkToken: 'postmark-token-0123456789' } });
    expect(item(after, 'resend_webhook').state).toBe('done');
  });
});
