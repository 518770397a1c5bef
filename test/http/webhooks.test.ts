import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The real server and its in-process worker over HTTP: an endpoint registered with a token, a
 * member added through the API, and the `webhook_delivery` job posting the signed event to a
 * local receiver, verified with a Standard Webhooks library. Roles: an editor's token gets 403.
 */
let t: TestDatabase;
let server: RunningServer;
let receiver: Server;
let hookUrl: string;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
let owner: Record<string, string>;
let editor: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase();
  const o = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  const e = await createStaffUser(t.db, { email: 'editor@example.com', password: 'a long editor password', role: 'editor' });
  owner = { authorization: `Bearer ${(await createApiToken(t.db, o.id, 'test')).token}`, 'content-type': 'application/json' };
  editor = { authorization: `Bearer ${(await createApiToken(t.db, e.id, 'test')).token}`, 'content-type': 'application/json' };
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end('thanks');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  server = await startServer({ databaseUrl: t.url, env: { WEBHOOKS_ALLOW_PRIVATE: '1' } });
});
afterAll(async () => {
  await server?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await t?.drop();
});

describe('outbound webhooks through the real worker', () => {
  it('refuses an editor', async () => {
    const res = await fetch(`${server.url}/api/v1/webhooks`, {
      method: 'POST',
      headers: editor,
      body: JSON.stringify({ url: hookUrl, events: ['member.created'] }),
    });
    expect(res.status).toBe(403);
    expect((await fetch(`${server.url}/api/v1/webhooks`, { headers: editor })).status).toBe(403);
  });

  it('delivers a signed member.created to the receiver', async () => {
    const created = await fetch(`${server.url}/api/v1/webhooks`, {
      method: 'POST',
      headers: owner,
      body: JSON.stringify({ url: hookUrl, events: ['member.created'], description: 'test receiver' }),
    });
    expect(created.status).toBe(201);
    const { webhook } = (await created.json()) as { webhook: { id: string; secret: string } };
    expect(webhook.secret).toMatch(/^whsec_/);

    const member = await fetch(`${server.url}/api/v1/members`, {
      method: 'POST',
      headers: owner,
      body: JSON.stringify({ email: 'hooked@example.com', name: 'Hooked' }),
    });
    expect(member.status).toBe(201);

    const got = await waitFor(async () => received[0], { until: (r) => r !== undefined, what: 'the delivery', timeout: 20_000 });
    const event = new Webhook(webhook.secret).verify(got!.body, {
      'webhook-id': String(got!.headers['webhook-id']),
      'webhook-timestamp': String(got!.headers['webhook-timestamp']),
      'webhook-signature': String(got!.headers['webhook-signature']),
    }) as { type: string; data: { email: string } };
    expect(event).toMatchObject({ type: 'member.created', data: { email: 'hooked@example.com' } });

    const log = await waitFor(
      async () =>
        (await (await fetch(`${server.url}/api/v1/webhooks/${webhook.id}/deliveries`, { headers: owner })).json()) as {
          deliveries: Array<{ status: string; last_status_code: number | null }>;
        },
      { until: (b) => b.deliveries[0]?.status === 'delivered', what: 'the logged delivery' },
    );
    expect(log.deliveries[0]).toMatchObject({ status: 'delivered', last_status_code: 200 });
  });
});
