import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import { resendWebhookHeaders, startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/** The sends API and the Resend webhook, against the real server, worker and Resend SDK. */
const WEBHOOK_SECRET = `whsec_${Buffer.from('a webhook secret for the tests').toString('base64')}`;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 120);
  for (const role of ['owner', 'editor', 'moderator'] as const) {
    const user = await createStaffUser(t.db, { email: `${role}@example.com`, password: `a long ${role} password`, role });
    tokens[role] = (await createApiToken(t.db, user.id, role)).token;
  }
  resend = await startResendTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url, RESEND_WEBHOOK_SECRET: WEBHOOK_SECRET, SEND_RATE_LIMIT: '100' },
  });
});
afterAll(async () => {
  await server?.stop();
  await resend?.close();
  await t.drop();
});

const api = (path: string, init: { method?: string; body?: unknown; role?: string } = {}) =>
  fetch(server.url + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${tokens[init.role ?? 'editor']}`, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
type Send = {
  id: string;
  status: string;
  recipients: number;
  posted: number;
  delivered: number;
  bounced: number;
  failed: number;
  complained: number;
};
const sendOf = async (id: string) => ((await (await api(`/api/v1/sends/${id}`)).json()) as { send: Send }).send;

function webhook(body: unknown, secret = WEBHOOK_SECRET) {
  const raw = JSON.stringify(body);
  return fetch(`${server.url}/webhooks/resend`, { method: 'POST', headers: resendWebhookHeaders(secret, raw), body: raw });
}

describe('/api/v1/sends', () => {
  it('counts, creates, sends and reports a send (DESIGN.md shape)', async () => {
    const postId = await makePost(t.db);
    const count = await api('/api/v1/sends/count', { body: { post_id: postId, segment: { newsletters: ['weekly'] } } });
    expect(await count.json()).toEqual({ count: 120 });
    const res = await api('/api/v1/sends', { body: { post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0 } });
    expect(res.status).toBe(201);
    const { send } = (await res.json()) as { send: Send };
    expect(send).toMatchObject({
      id: expect.any(String),
      status: 'scheduled',
      recipients: 0,
      posted: 0,
      delivered: 0,
      bounced: 0,
      failed: 0,
    });
    const done = await waitFor(() => sendOf(send.id), { until: (s) => s.status === 'sent', timeout: 30_000, what: 'the send' });
    expect(done).toMatchObject({ recipients: 120, posted: 120, failed: 0 });
    expect(resend.countByRecipient().size).toBe(120);
    const list = (await (await api('/api/v1/sends')).json()) as { sends: Send[]; next: string | null };
    expect(list.sends.map((s) => s.id)).toContain(send.id);
    const report = (await (await api(`/api/v1/sends/${send.id}?report=1`)).json()) as { batches: Record<string, { batches: number }> };
    expect(report.batches.posted?.batches).toBe(2);
  });

  it('undo and cancel through the API, with a clear 409 for a step the status does not allow', async () => {
    const postId = await makePost(t.db);
    const { send } = (await (
      await api('/api/v1/sends', { body: { post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 600 } })
    ).json()) as { send: Send };
    const undone = await api(`/api/v1/sends/${send.id}/undo`, { body: '' });
    expect(((await undone.json()) as { send: Send }).send.status).toBe('draft');
    const again = await api(`/api/v1/sends/${send.id}/undo`, { body: '' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: { code: 'invalid_transition', message: 'A draft send cannot be undone.' } });
    const scheduled = await api(`/api/v1/sends/${send.id}/schedule`, { body: { send_at: new Date(Date.now() + 3_600_000).toISOString() } });
    expect(((await scheduled.json()) as { send: Send }).send.status).toBe('scheduled');
    const cancelled = await api(`/api/v1/sends/${send.id}/cancel`, { body: '' });
    expect(((await cancelled.json()) as { send: Send }).send.status).toBe('cancelled');
  });

  it('shows a cancelled send as cancelled: when, how many left before, no progress bar, and never in "Latest sends" as if sent', async () => {
    const { Browserless } = await import('../helpers/server.ts');
    const staff = new Browserless(server.url);
    await staff.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const page = async (id: string) => {
      const res = await staff.request(`/admin/sends/${id}`);
      expect(res.status).toBe(200);
      return res.text();
    };
    const create = async () =>
      (
        (await (
          await api('/api/v1/sends', { body: { post_id: await makePost(t.db), segment: { newsletters: ['weekly'] }, undo_seconds: 600 } })
        ).json()) as { send: Send }
      ).send;

    // Cancelled before anything left.
    const early = await create();
    await api(`/api/v1/sends/${early.id}/cancel`, { body: '' });
    const earlyHtml = await page(early.id);
    expect(earlyHtml).toMatch(/data-testid="cancelled"[^>]*>\s*<strong>Cancelled<\/strong> on \d{1,2} \w{3} \d{4}, \d{2}:\d{2}/);
    expect(earlyHtml).toContain('No email of it was sent.');
    expect(earlyHtml).not.toContain('<progress');
    expect(earlyHtml).not.toContain('data-testid="report"');

    // Cancelled part-way: 40 of 120 had gone to the provider.
    const partway = await create();
    await api(`/api/v1/sends/${partway.id}/cancel`, { body: '' });
    await t.db.updateTable('sends').set({ recipients: 120, prepared_at: new Date() }).where('id', '=', partway.id).execute();
    const members = await t.db.selectFrom('members').select('id').orderBy('id').limit(120).execute();
    await t.db
      .insertInto('send_batches')
      .values([
        {
          send_id: partway.id,
          batch: 0,
          first_member: members[0]!.id,
          last_member: members[99]!.id,
          size: 100,
          status: 'posted',
          posted_count: 40,
        },
        { send_id: partway.id, batch: 1, first_member: members[100]!.id, last_member: members[119]!.id, size: 20, status: 'cancelled' },
      ])
      .execute();
    await t.db
      .insertInto('deliveries')
      .values(
        members
          .slice(0, 40)
          .map((m) => ({ send_id: partway.id, member_id: m.id, email: `m${m.id}@example.com`, variant: 'f', status: 'posted' })),
      )
      .execute();
    const partHtml = await page(partway.id);
    expect(partHtml).toMatch(
      /<span data-testid="sent-before-cancel">40<\/span> of 120\s+emails had gone to the mail provider before; the other 80 were never sent\./,
    );
    expect(partHtml).not.toContain('<progress');
    expect(partHtml).toContain('Never sent (cancelled)');
    expect(partHtml).toContain("as the mail provider's webhooks report it");

    // Stats' "Latest sends": the early one is absent, the part-way one says it was cancelled.
    const stats = await (await staff.request('/admin/stats')).text();
    const latest = stats.slice(stats.indexOf('Latest sends'));
    expect(latest).toContain(`/admin/stats/sends/${partway.id}`);
    expect(latest).not.toContain(`/admin/stats/sends/${early.id}"`);
    expect(latest).toMatch(new RegExp(`/admin/stats/sends/${partway.id}"[\\s\\S]*?cancelled part-way`));
  });

  it('refuses bad input with a 4xx and a message, never a 500', async () => {
    const postId = await makePost(t.db);
    const cases: Array<[unknown, number, RegExp]> = [
      ['not json', 400, /JSON/],
      [{ post_id: postId }, 400, /segment/],
      [{ post_id: postId, segment: { newsletters: [] } }, 400, /at least one newsletter/],
      [{ post_id: postId, segment: { newsletters: ['ghost'] } }, 400, /no newsletter "ghost"/],
      [{ post_id: postId, segment: { newsletters: ['weekly'], platforms: ['myspace'] } }, 400, /no platform/],
      [{ post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: -1 }, 400, /undo_seconds/],
      [{ post_id: postId, segment: { newsletters: ['weekly'] }, send_at: '2001-01-01T00:00:00Z' }, 400, /in the past/],
      [{ post_id: '999999', segment: { newsletters: ['weekly'] } }, 404, /No such post/],
      [{ post_id: postId, segment: { newsletters: ['weekly'], extra: 1 } }, 400, /segment/],
    ];
    for (const [body, status, message] of cases) {
      const res = await api('/api/v1/sends', { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    await sql`update posts set status = 'draft' where id = ${postId}`.execute(t.db);
    const draft = await api('/api/v1/sends', { body: { post_id: postId, segment: { newsletters: ['weekly'] } } });
    expect(draft.status).toBe(409);
    expect((await api('/api/v1/sends/123456789')).status).toBe(404);
    expect((await api('/api/v1/sends/1/explode', { body: '' })).status).toBe(404);
  });

  it('is for editors and up: a moderator gets 403, no token 401', async () => {
    expect((await api('/api/v1/sends', { role: 'moderator' })).status).toBe(403);
    expect((await fetch(server.url + '/api/v1/sends')).status).toBe(401);
    expect((await api('/api/v1/sends', { role: 'owner' })).status).toBe(200);
  });
});

describe('POST /webhooks/resend', () => {
  async function sentTo(count: number) {
    const postId = await makePost(t.db);
    const { send } = (await (
      await api('/api/v1/sends', { body: { post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0 } })
    ).json()) as { send: Send };
    await waitFor(() => sendOf(send.id), { until: (s) => s.status === 'sent', timeout: 30_000, what: 'the send' });
    expect((await sendOf(send.id)).posted).toBe(count);
    return send.id;
  }
  const event = (type: string, sendId: string, n: number, extra: Record<string, unknown> = {}) => ({
    type,
    created_at: new Date().toISOString(),
    data: { email_id: `re_${n}`, to: [`reader${n}@example.com`], tags: { hearth_send: sendId, hearth_member: String(n) }, ...extra },
  });

  it('rejects a bad signature with 401 and ignores unknown types with 200', async () => {
    expect((await webhook(event('email.delivered', '1', 1), `whsec_${Buffer.from('wrong').toString('base64')}`)).status).toBe(401);
    const unsigned = await fetch(`${server.url}/webhooks/resend`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    const unknown = await webhook({ type: 'contact.created', data: {} });
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ received: true, outcome: 'ignored' });
  });

  it('counts delivered once under replays and in any order; a hard bounce or a complaint suppresses everywhere', async () => {
    const sendId = await sentTo(120);
    const memberId = async (email: string) =>
      (await t.db.selectFrom('members').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    const m5 = await memberId('reader5@example.com');
    const m6 = await memberId('reader6@example.com');
    const m7 = await memberId('reader7@example.com');
    const ev = (type: string, id: string, email: string, extra: Record<string, unknown> = {}) => ({
      type,
      created_at: new Date().toISOString(),
      data: { email_id: 're_x', to: [email], tags: { hearth_send: sendId, hearth_member: id }, ...extra },
    });
    // Complaint first, then the delivery it followed (out of order), each replayed.
    for (const body of [
      ev('email.complained', m5, 'reader5@example.com'),
      ev('email.delivered', m5, 'reader5@example.com'),
      ev('email.delivered', m5, 'reader5@example.com'),
      ev('email.complained', m5, 'reader5@example.com'),
    ]) {
      expect((await webhook(body)).status).toBe(200);
    }
    expect(await (await webhook(ev('email.delivered', m6, 'reader6@example.com'))).json()).toEqual({ received: true, outcome: 'recorded' });
    expect(await (await webhook(ev('email.delivered', m6, 'reader6@example.com'))).json()).toEqual({
      received: true,
      outcome: 'duplicate',
    });
    await webhook(ev('email.bounced', m7, 'reader7@example.com', { bounce: { type: 'Transient', subType: 'MailboxFull' } }));
    expect((await t.db.selectFrom('members').select('status').where('id', '=', m7).executeTakeFirstOrThrow()).status).toBe('active');
    await webhook(ev('email.bounced', m7, 'reader7@example.com', { bounce: { type: 'Permanent', subType: 'General' } }));
    await webhook(ev('email.bounced', m7, 'reader7@example.com', { bounce: { type: 'Permanent', subType: 'General' } }));
    const send = await sendOf(sendId);
    expect(send).toMatchObject({ delivered: 2, complained: 1, bounced: 1 });
    const statuses = await t.db.selectFrom('members').select(['email', 'status']).where('id', 'in', [m5, m7]).orderBy('email').execute();
    expect(statuses).toEqual([
      { email: 'reader5@example.com', status: 'complained' },
      { email: 'reader7@example.com', status: 'bounced' },
    ]);
    const suppressed = await t.db.selectFrom('suppressions').select('reason').orderBy('reason').execute();
    expect(suppressed.map((s) => s.reason)).toEqual(['bounced', 'complained']);
    // The next send leaves them out.
    const next = await sentTo(118);
    expect((await sendOf(next)).recipients).toBe(118);
  });

  it('suppresses a bounced transactional email too (no tags)', async () => {
    await sql`insert into members (email, status, tier_id, referral_code) values ('lone@example.com', 'pending', (select id from tiers where slug = 'free'), 'lonecode1')`.execute(
      t.db,
    );
    const res = await webhook({
      type: 'email.bounced',
      created_at: new Date().toISOString(),
      data: { email_id: 're_t', to: ['Lone@Example.com'], bounce: { type: 'Permanent' } },
    });
    expect(res.status).toBe(200);
    expect(
      (await t.db.selectFrom('members').select('status').where('email', '=', 'lone@example.com').executeTakeFirstOrThrow()).status,
    ).toBe('bounced');
  });
});
