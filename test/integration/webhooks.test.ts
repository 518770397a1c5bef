import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPost, updatePost } from '../../src/domain/content/editor.ts';
import { createMember, updateMember } from '../../src/domain/members/manage.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { deliverWebhook, RETRY_WINDOW_MS } from '../../src/domain/webhooks/deliver.ts';
import * as deliveriesRoute from '../../src/pages/api/v1/webhooks/[id]/deliveries/index.ts';
import * as replayRoute from '../../src/pages/api/v1/webhooks/[id]/deliveries/[delivery]/replay.ts';
import * as webhookRoute from '../../src/pages/api/v1/webhooks/[id].ts';
import * as webhooksRoute from '../../src/pages/api/v1/webhooks/index.ts';
import { allowed, decideRoute } from '../../src/web/guard.ts';
import type { ApiDeps } from '../../src/web/api/route.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Outbound webhooks end to end on a real database: registration over the API (roles, SSRF guard,
 * the secret shown once), events emitted by the member domain in its own transaction, and the
 * `webhook_delivery` task posting to a local receiver, whose deliveries a Standard Webhooks
 * library verifies. Retries and the 3-day disabling run the task directly with an advanced clock.
 */
let t: TestDatabase;
let deps: ApiDeps;
let receiver: Server;
let base: string;
let answer = 200;
let hang = false;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  t = await createTestDatabase();
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  deps = {
    db: t.db,
    siteUrl: 'http://hearth.test',
    stripe: undefined,
    staff: { id: owner.id, email: owner.email, name: owner.name, role: 'owner' },
    webhooksAllowPrivate: true,
  };
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (hang) return; // never answers
      res.statusCode = answer;
      res.end(answer === 200 ? 'ok' : 'receiver is down '.repeat(200));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await t?.drop();
});
beforeEach(async () => {
  answer = 200;
  hang = false;
  received.length = 0;
  await t.db.deleteFrom('webhooks').execute();
});

const req = (path: string, init: RequestInit = {}) =>
  new Request(`http://hearth.test${path}`, { ...init, headers: { 'content-type': 'application/json' } });

async function register(body: unknown, d: ApiDeps = deps) {
  const res = await webhooksRoute.POST.handle(req('/api/v1/webhooks', { method: 'POST', body: JSON.stringify(body) }), d);
  return {
    status: res.status,
    body: (await res.json()) as { webhook: { id: string; secret: string }; error?: { code: string; message: string } },
  };
}

async function deliveriesOf(webhookId: string) {
  return t.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('id').execute();
}

async function jobsFor(deliveryId: string) {
  const { rows } = await sql<{ run_at: Date }>`
    select j.run_at from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'webhook_delivery' and j.payload->>'deliveryId' = ${deliveryId}`.execute(t.db);
  return rows;
}

const opts = { allowPrivate: true, from: 'hearth@hearth.test' };

describe('registering endpoints', () => {
  it('is for owners and admins only (an editor gets 403 from the guard)', () => {
    for (const [path, method] of [
      ['/api/v1/webhooks', 'POST'],
      ['/api/v1/webhooks', 'GET'],
      ['/api/v1/webhooks/1', 'DELETE'],
      ['/api/v1/webhooks/1/deliveries', 'GET'],
      ['/api/v1/webhooks/1/deliveries/2/replay', 'POST'],
      ['/admin/webhooks', 'GET'],
    ] as const) {
      const decision = decideRoute(path, method);
      expect(decision, `${method} ${path}`).toEqual({ kind: 'staff', permission: 'settings:manage' });
      expect(allowed('editor', 'settings:manage')).toBe(false);
      expect(allowed('moderator', 'settings:manage')).toBe(false);
      expect(allowed('admin', 'settings:manage')).toBe(true);
    }
  });

  it('refuses loopback, private and link-local URLs without WEBHOOKS_ALLOW_PRIVATE, with a message', async () => {
    const strict = { ...deps, webhooksAllowPrivate: false };
    for (const url of [
      `${base}/hook`,
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost:9/',
      'http://0.0.0.0/',
    ]) {
      const r = await register({ url, events: ['member.created'] }, strict);
      expect(r.status, url).toBe(400);
      expect(r.body.error?.message, url).toMatch(/address|resolved/i);
    }
    const ftp = await register({ url: 'ftp://example.com/x', events: ['member.created'] }, strict);
    expect(ftp.status).toBe(400);
    expect(ftp.body.error?.message).toMatch(/http/);
    const unknownEvent = await register({ url: 'https://93.184.215.14/', events: ['member.exploded'] }, strict);
    expect(unknownEvent.status).toBe(400);
    expect(await t.db.selectFrom('webhooks').select('id').execute()).toEqual([]);
  });

  it('shows the secret once: in the 201 and never in the list', async () => {
    const r = await register({ url: `${base}/hook`, events: ['member.created'], description: 'CRM' });
    expect(r.status).toBe(201);
    expect(r.body.webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const list = await webhooksRoute.GET.handle(req('/api/v1/webhooks'), deps);
    const text = await list.text();
    expect(text).toContain(r.body.webhook.id);
    expect(text).not.toContain(r.body.webhook.secret);
    expect(text).not.toContain('whsec_');
  });
});

describe('delivering events', () => {
  it('delivers a member.created from the domain, signed, verified by a Standard Webhooks library', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created', 'member.updated'] });
    const memberId = await createMember(t.db, { email: 'Reader@Example.com', name: 'Reader' });
    const [delivery] = await deliveriesOf(body.webhook.id);
    expect(delivery!.event_type).toBe('member.created');
    expect(await jobsFor(delivery!.id)).toHaveLength(1);

    expect(await deliverWebhook(t.db, delivery!.id, opts)).toBe('delivered');
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(delivery!.message_id);
    const verified = new Webhook(body.webhook.secret).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    }) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(verified.type).toBe('member.created');
    expect(verified.data).toEqual({ id: memberId, email: 'reader@example.com', status: expect.any(String), fields: {} });
    // A wrong secret fails verification: the check above can fail.
    expect(() =>
      new Webhook('whsec_' + Buffer.from('another secret of 24 byte').toString('base64')).verify(got.body, {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    ).toThrow();

    // A second attempt of a delivered delivery sends nothing.
    expect(await deliverWebhook(t.db, delivery!.id, opts)).toBe('skipped');
    expect(received).toHaveLength(1);

    // Only listened events: a label change is member.updated, listened; nothing for other endpoints.
    await updateMember(t.db, memberId, { labels: ['vip'] });
    expect((await deliveriesOf(body.webhook.id)).map((d) => d.event_type)).toEqual(['member.created', 'member.updated']);
  });

  it('emits post.published once, when a draft is published', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['post.published'] });
    const draft = await createPost(t.db, { title: 'Draft', markdown: 'Hi.', visibility: 'public', status: 'draft' }, null);
    expect(await deliveriesOf(body.webhook.id)).toHaveLength(0);
    const published = await updatePost(
      t.db,
      draft.id,
      { title: 'Draft', markdown: 'Hi.', visibility: 'public', status: 'published' },
      draft.revision,
    );
    await updatePost(t.db, draft.id, { title: 'Edited', markdown: 'Hi.', visibility: 'public', status: 'published' }, published.revision);
    const rows = await deliveriesOf(body.webhook.id);
    expect(rows.map((r) => [r.event_type, r.payload])).toEqual([
      ['post.published', expect.objectContaining({ type: 'post.published', data: { id: draft.id, slug: draft.slug } })],
    ]);
  });

  it('writes no delivery for a change that rolls back', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'twice@example.com' });
    await expect(createMember(t.db, { email: 'twice@example.com' })).rejects.toThrow();
    expect(await deliveriesOf(body.webhook.id)).toHaveLength(1);
  });

  it('retries a 500 with backoff, logs each response code and excerpt, then delivers', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'retry@example.com' });
    const [d] = await deliveriesOf(body.webhook.id);
    answer = 500;
    const t0 = new Date();
    expect(await deliverWebhook(t.db, d!.id, { ...opts, now: () => t0 })).toBe('retrying');
    let row = (await deliveriesOf(body.webhook.id))[0]!;
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect(row.last_response!.length).toBeLessThanOrEqual(500);
    expect(row.next_attempt_at!.getTime()).toBeGreaterThan(t0.getTime());
    expect((await jobsFor(d!.id)).some((j) => j.run_at.getTime() === row.next_attempt_at!.getTime())).toBe(true);

    answer = 200;
    expect(await deliverWebhook(t.db, d!.id, { ...opts, now: () => new Date(t0.getTime() + 60_000) })).toBe('delivered');
    row = (await deliveriesOf(body.webhook.id))[0]!;
    expect(row).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 200 });
    const attempts = await t.db
      .selectFrom('webhook_attempts')
      .select('status_code')
      .where('delivery_id', '=', d!.id)
      .orderBy('id')
      .execute();
    expect(attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(received.map((r) => r.headers['webhook-id'])).toEqual([d!.message_id, d!.message_id]);
  });

  it('gives up on a receiver that does not answer within the timeout, without waiting for it', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'slow@example.com' });
    const [d] = await deliveriesOf(body.webhook.id);
    hang = true;
    // The receiver never answers: only the 300 ms timeout can end this call, so its return is the
    // check (waiting for the receiver would hit the test's timeout); its duration, which load
    // stretches, is not asserted.
    expect(await deliverWebhook(t.db, d!.id, { ...opts, timeoutMs: 300 })).toBe('retrying');
    expect((await deliveriesOf(body.webhook.id))[0]).toMatchObject({
      last_status_code: null,
      last_error: expect.stringMatching(/no answer/),
    });
  });

  it('refuses at delivery time a URL that has become private (no request made)', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'rebind@example.com' });
    const [d] = await deliveriesOf(body.webhook.id);
    expect(await deliverWebhook(t.db, d!.id, { ...opts, allowPrivate: false })).toBe('retrying');
    expect(received).toHaveLength(0);
    expect((await deliveriesOf(body.webhook.id))[0]!.last_error).toMatch(/private/);
  });

  it('disables an endpoint failing for 3 days, tells the owner, and a replay turns it back on', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'down1@example.com' });
    await createMember(t.db, { email: 'down2@example.com' });
    const [d1, d2] = await deliveriesOf(body.webhook.id);
    answer = 503;
    const t0 = new Date();
    expect(await deliverWebhook(t.db, d1!.id, { ...opts, now: () => t0 })).toBe('retrying');
    expect(await deliverWebhook(t.db, d1!.id, { ...opts, now: () => new Date(t0.getTime() + RETRY_WINDOW_MS / 2) })).toBe('retrying');
    expect(await deliverWebhook(t.db, d1!.id, { ...opts, now: () => new Date(t0.getTime() + RETRY_WINDOW_MS + 1000) })).toBe('disabled');

    const endpoint = await t.db.selectFrom('webhooks').selectAll().where('id', '=', body.webhook.id).executeTakeFirstOrThrow();
    expect(endpoint.disabled_at).not.toBeNull();
    expect((await deliveriesOf(body.webhook.id)).map((d) => d.status)).toEqual(['failed', 'failed']);
    const { rows: mails } = await sql<{ payload: { message: { to: string[]; subject: string } } }>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_email'`.execute(t.db);
    expect(mails.map((m) => m.payload.message)).toContainEqual(
      expect.objectContaining({ to: ['owner@example.com'], subject: expect.stringContaining('disabled') }),
    );
    // No new deliveries while disabled.
    await createMember(t.db, { email: 'down3@example.com' });
    expect(await deliveriesOf(body.webhook.id)).toHaveLength(2);

    // The list shows it disabled; replay over the API turns it back on and delivers under the same id.
    const list = (await (await webhooksRoute.GET.handle(req('/api/v1/webhooks'), deps)).json()) as {
      webhooks: Array<{ enabled: boolean }>;
    };
    expect(list.webhooks[0]!.enabled).toBe(false);
    answer = 200;
    const replay = await replayRoute.POST.handle(
      req(`/api/v1/webhooks/${body.webhook.id}/deliveries/${d2!.id}/replay`, { method: 'POST' }),
      deps,
      { id: body.webhook.id, delivery: d2!.id },
    );
    expect(replay.status).toBe(202);
    expect(await jobsFor(d2!.id)).not.toHaveLength(0);
    received.length = 0;
    expect(await deliverWebhook(t.db, d2!.id, opts)).toBe('delivered');
    expect(received[0]!.headers['webhook-id']).toBe(d2!.message_id);
    const after = await t.db.selectFrom('webhooks').select('disabled_at').where('id', '=', body.webhook.id).executeTakeFirstOrThrow();
    expect(after.disabled_at).toBeNull();

    const deliveries = await deliveriesRoute.GET.handle(req(`/api/v1/webhooks/${body.webhook.id}/deliveries`), deps, {
      id: body.webhook.id,
    });
    const json = (await deliveries.json()) as { deliveries: Array<{ id: string; status: string; last_status_code: number }> };
    expect(json.deliveries.find((d) => d.id === d2!.id)).toMatchObject({ status: 'delivered', last_status_code: 200 });

    const missing = await replayRoute.POST.handle(req('/x', { method: 'POST' }), deps, { id: body.webhook.id, delivery: '999999' });
    expect(missing.status).toBe(404);
  });

  it('deletes an endpoint with its log; pending jobs then find nothing', async () => {
    const { body } = await register({ url: `${base}/hook`, events: ['member.created'] });
    await createMember(t.db, { email: 'gone@example.com' });
    const [d] = await deliveriesOf(body.webhook.id);
    const res = await webhookRoute.DELETE.handle(req('/x', { method: 'DELETE' }), deps, { id: body.webhook.id });
    expect(res.status).toBe(204);
    expect(await deliverWebhook(t.db, d!.id, opts)).toBe('skipped');
    expect(received).toHaveLength(0);
    const again = await webhookRoute.DELETE.handle(req('/x', { method: 'DELETE' }), deps, { id: body.webhook.id });
    expect(again.status).toBe(404);
  });
});
