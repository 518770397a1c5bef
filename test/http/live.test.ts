import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { liveSendPaused } from '../../src/domain/live/hooks.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession } from '../../src/domain/staff/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/**
 * The staff live feed through two real web processes on one database: a question posted through
 * one reaches a stream on the other within 2 s; Last-Event-ID resumes without loss; 401 without
 * staff; a moderator's stream carries no email address; the Live panel shows a send paused by the
 * provider, on its first paint and as the fact arrives (a real browser).
 */
const SLUG = 'why-we-left-the-algorithm';
let t: TestDatabase;
let a: RunningServer;
let b: RunningServer;
let memberCookie = '';
const tokens: Record<string, string> = {};
let ownerCookie = '';

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** A stream client: collects parsed events; `close` aborts. */
function openStream(url: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  const ready = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    return res;
  })();
  const done = ready.then(async (res) => {
    if (!res.ok || !res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
          );
          if (fields.event) events.push({ id: fields.id!, event: fields.event, data: JSON.parse(fields.data!) });
        }
      }
    } catch {
      // aborted
    }
  });
  return { events, ready, close: () => controller.abort(), done };
}

async function until<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ask(server: RunningServer, body: string): Promise<number> {
  await sql`delete from rate_limits`.execute(t.db); // one member asks many times here
  const res = await fetch(`${server.url}/posts/${SLUG}/comments`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, cookie: memberCookie },
    body: new URLSearchParams({ body, question: '1' }),
  });
  return res.status;
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const member = await t.db
    .insertInto('members')
    .values({
      email: 'asker@example.com',
      name: 'Asker',
      status: 'active',
      tier_id: sql<string>`(select id from tiers where slug = 'supporter')` as unknown as string,
      referral_code: 'ref-asker',
      created_at: sql<Date>`now() - interval '90 days'` as unknown as Date,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // An established member: their questions are published, not held.
  await t.db
    .insertInto('comments')
    .values({
      post_id: sql<string>`(select id from posts where slug = ${SLUG})` as unknown as string,
      member_id: member.id,
      body: 'An earlier comment',
      announced: true,
    })
    .execute();
  memberCookie = `hearth_member=${(await createMemberSession(t.db, member.id)).token}`;
  for (const role of ['owner', 'moderator'] as const) {
    const staff = await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role });
    tokens[role] = (await createApiToken(t.db, staff.id, 'live')).token;
    if (role === 'owner') ownerCookie = `hearth_staff=${(await createStaffSession(t.db, staff.id)).token}`;
  }
  [a, b] = await Promise.all([startServer({ databaseUrl: t.url }), startServer({ databaseUrl: t.url, args: ['--no-worker'] })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await t?.drop();
});

describe('GET /api/v1/live', () => {
  it('is 401 without a staff token or session, and for a member', async () => {
    expect((await fetch(`${a.url}/api/v1/live`)).status).toBe(401);
    expect((await fetch(`${a.url}/api/v1/live`, { headers: { authorization: 'Bearer nope-not-a-token' } })).status).toBe(401);
    const asMember = await fetch(`${a.url}/api/v1/live`, { headers: { cookie: memberCookie } });
    expect(asMember.status).toBe(401);
    expect(await asMember.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('delivers a question posted through the same and through another web process within 2 s', async () => {
    const stream = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    const res = await stream.ready;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await new Promise((r) => setTimeout(r, 200));

    for (const [server, text] of [
      [b, 'Through the other process?'],
      [a, 'Through the same process?'],
    ] as const) {
      const asked = Date.now();
      expect(await ask(server, text)).toBe(303);
      const id = (await t.db.selectFrom('comments').select('id').where('body', '=', text).executeTakeFirstOrThrow()).id;
      const ev = await until(
        () => stream.events.find((e) => e.event === 'question.created' && e.data.id === id),
        2_000,
        `question via ${server.url}`,
      );
      expect(Date.now() - asked).toBeLessThan(2_000);
      expect(ev.data).toMatchObject({ id, status: 'published' });
      expect(Number(ev.id)).toBeGreaterThan(0);
    }
    // The session cookie opens it too (the admin Live page).
    const bySession = openStream(`${b.url}/api/v1/live`, { cookie: ownerCookie });
    expect((await bySession.ready).status).toBe(200);
    bySession.close();
    stream.close();
  });

  it('resumes with Last-Event-ID without missing anything; a bad id streams from now', async () => {
    const first = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    await first.ready;
    await new Promise((r) => setTimeout(r, 200));
    expect(await ask(b, 'Resume one?')).toBe(303);
    const one = await until(() => first.events.find((e) => e.event === 'question.created'), 2_000, 'the first question');
    first.close();
    // While no client listens: three more facts, through both processes.
    expect(await ask(a, 'Resume two?')).toBe(303);
    expect(await ask(b, 'Resume three?')).toBe(303);
    expect(await ask(a, 'Resume four?')).toBe(303);
    const expected = await t.db
      .selectFrom('comments')
      .select('id')
      .where('body', 'in', ['Resume two?', 'Resume three?', 'Resume four?'])
      .orderBy('id')
      .execute();

    const resumed = openStream(`${b.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}`, 'last-event-id': one.id });
    await until(
      () => (resumed.events.filter((e) => e.event === 'question.created').length >= 3 ? true : undefined),
      2_000,
      'the missed questions',
    );
    await new Promise((r) => setTimeout(r, 300));
    const got = resumed.events.filter((e) => e.event === 'question.created').map((e) => e.data.id);
    expect(got).toEqual(expected.map((e) => e.id)); // all three, in order, none twice, not the one already seen
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(Math.min(...ids)).toBeGreaterThan(Number(one.id));
    resumed.close();

    const bad = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}`, 'last-event-id': 'not-a-number' });
    expect((await bad.ready).status).toBe(200);
    const ahead = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}`, 'last-event-id': '999999999' });
    expect((await ahead.ready).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(bad.events).toEqual([]); // from now: nothing old replayed
    expect(await ask(b, 'After the bad id?')).toBe(303);
    await until(() => bad.events.find((e) => e.event === 'question.created'), 2_000, 'the new question on the bad-id stream');
    await until(() => ahead.events.find((e) => e.event === 'question.created'), 2_000, 'the new question on the ahead-id stream');
    bad.close();
    ahead.close();
  });

  it('gives a moderator member events without the email address', async () => {
    const owner = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    const mod = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.moderator}` });
    await Promise.all([owner.ready, mod.ready]);
    await new Promise((r) => setTimeout(r, 200));
    const res = await fetch(`${b.url}/subscribe`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: b.url },
      body: new URLSearchParams({ email: 'newcomer@example.com', utm_source: 'instagram' }),
    });
    expect(res.status).toBeLessThan(400);
    const seen = await until(() => owner.events.find((e) => e.event === 'member.created'), 2_000, 'member.created (owner)');
    expect(seen.data).toMatchObject({ email: 'newcomer@example.com' });
    expect(typeof seen.data.platform).toBe('string');
    const modSeen = await until(() => mod.events.find((e) => e.event === 'member.created'), 2_000, 'member.created (moderator)');
    expect(modSeen.data.id).toBe(seen.data.id);
    expect(JSON.stringify(mod.events)).not.toContain('@');
    owner.close();
    mod.close();
  });

  it('shows a send paused by the provider on the Live panel, on first paint and as it arrives', async () => {
    const stream = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    await stream.ready;
    await new Promise((r) => setTimeout(r, 200));
    const pause = (id: string, reason: 'rate_limited' | 'provider_error', error: string) =>
      t.db.transaction().execute((trx) => liveSendPaused(trx, id, { at: new Date(), reason, error }));
    await pause('7001', 'rate_limited', 'rate limited: Too many requests');
    const fact = await until(
      () => stream.events.find((e) => e.event === 'send.progress' && e.data.id === '7001'),
      2_000,
      'the pause on the stream',
    );
    expect(fact.data).toMatchObject({ milestone: 'paused', reason: 'rate_limited', error: 'rate limited: Too many requests' });
    stream.close();

    // Without JavaScript: the first paint.
    const html = await (await fetch(`${b.url}/admin/live`, { headers: { cookie: ownerCookie } })).text();
    expect(html).toContain('Send 7001 paused by the provider (rate limited)');

    // With it: a pause that comes while the panel is open is added at the top.
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      await context.addCookies([{ name: 'hearth_staff', value: ownerCookie.split('=')[1]!, url: a.url }]);
      const page = await context.newPage();
      await page.goto(`${a.url}/admin/live`);
      await pause('7002', 'provider_error', '503: Service unavailable');
      const first = page.locator('#live-events li').first();
      await first.getByText('Send 7002 paused by the provider (provider error)').waitFor({ timeout: 5_000 });
      expect(await first.textContent()).toContain('503: Service unavailable');
    } finally {
      await browser.close();
    }
  });

  it('counts what needs a human on the Live link of the admin navigation', async () => {
    const page = async () => (await fetch(`${a.url}/admin/live`, { headers: { cookie: ownerCookie } })).text();
    const badge = (html: string) => Number(/data-testid="needs-badge"[^>]*>\s*(\d+)/.exec(html)?.[1] ?? 0);
    const before = badge(await page());
    // A held comment is one more thing for a human.
    const asker = await t.db.selectFrom('members').select('id').where('email', '=', 'asker@example.com').executeTakeFirstOrThrow();
    await t.db
      .insertInto('comments')
      .values({
        post_id: sql<string>`(select id from posts where slug = ${SLUG})` as unknown as string,
        member_id: asker.id,
        body: 'Held for a human',
        status: 'held',
      })
      .execute();
    expect(badge(await page())).toBe(before + 1);
  });
});
