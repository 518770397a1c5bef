import { connect } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { liveSendPaused } from '../../src/domain/live/hooks.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession } from '../../src/domain/staff/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { WRITE_BYTES } from '../../src/live-routes.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The staff live feed through two real web processes on one database: a question posted through
 * one reaches a stream on the other; Last-Event-ID resumes without loss; 401 without staff; a
 * moderator's stream carries no email address; the Live panel shows a send paused by the
 * provider, on its first paint and as the fact arrives (a real browser).
 *
 * No assertion here is about speed (the feed's 2 s promise is a latency goal: a benchmark's to
 * measure, not a test's): a fact is awaited for up to EVENTUALLY, and "nothing else came" is
 * judged against a marker fact that follows it on the same stream (mark), never after a sleep.
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

/** How long a fact may take to arrive before the test gives up: a hang guard, not a speed goal. */
const EVENTUALLY = 30_000;

async function until<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Commits a marker fact and waits until `stream` has it. The feed is in order, so whatever the
 * stream was going to get before the marker, it has by then: what it holds can be checked for
 * what is missing or extra without sleeping. On a stream from now, it also means the process's
 * hub has handed out everything committed before the marker (a stream opened on that process
 * afterwards starts after it).
 */
let markers = 0;
async function mark(stream: { events: SseEvent[] }): Promise<SseEvent> {
  const marker = `marker-${++markers}`;
  await sql`insert into live_events (type, data) values ('import.finished', jsonb_build_object('marker', ${marker}::text))`.execute(t.db);
  return until(() => stream.events.find((e) => e.data.marker === marker), EVENTUALLY, `the marker ${marker}`);
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

  it('delivers a question posted through the same and through another web process', async () => {
    // The stream subscribes before its head is written: once the response is here, nothing is missed.
    const stream = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    const res = await stream.ready;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);

    // The feed promises each fact within 2 s; that is a latency goal, not a test's (no bench/
    // script measures it yet). Here: the fact arrives, through a NOTIFY from the other process too.
    for (const [server, text] of [
      [b, 'Through the other process?'],
      [a, 'Through the same process?'],
    ] as const) {
      expect(await ask(server, text)).toBe(303);
      const id = (await t.db.selectFrom('comments').select('id').where('body', '=', text).executeTakeFirstOrThrow()).id;
      const ev = await until(
        () => stream.events.find((e) => e.event === 'question.created' && e.data.id === id),
        EVENTUALLY,
        `question via ${server.url}`,
      );
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
    expect(await ask(b, 'Resume one?')).toBe(303);
    const one = await until(() => first.events.find((e) => e.event === 'question.created'), EVENTUALLY, 'the first question');
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
      EVENTUALLY,
      'the missed questions',
    );
    await mark(resumed); // anything repeated or out of order would have come before it
    const got = resumed.events.filter((e) => e.event === 'question.created').map((e) => e.data.id);
    expect(got).toEqual(expected.map((e) => e.id)); // all three, in order, none twice, not the one already seen
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(Math.min(...ids)).toBeGreaterThan(Number(one.id));
    resumed.close();

    // "From now" is from what a's hub has handed out: once a stream from now on a has a marker,
    // the hub has handed out everything before it (the three questions above among them).
    const probe = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    await probe.ready;
    await mark(probe);
    probe.close();
    const bad = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}`, 'last-event-id': 'not-a-number' });
    expect((await bad.ready).status).toBe(200);
    const ahead = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}`, 'last-event-id': '999999999' });
    expect((await ahead.ready).status).toBe(200);
    expect(await ask(b, 'After the bad id?')).toBe(303);
    const after = (await t.db.selectFrom('comments').select('id').where('body', '=', 'After the bad id?').executeTakeFirstOrThrow()).id;
    for (const [stream, what] of [
      [bad, 'the bad-id stream'],
      [ahead, 'the ahead-id stream'],
    ] as const) {
      await until(() => stream.events.find((e) => e.event === 'question.created'), EVENTUALLY, `the new question on ${what}`);
      // From now: the new question is the first thing it got, nothing old replayed before it.
      expect(stream.events[0]).toMatchObject({ event: 'question.created', data: { id: after } });
    }
    bad.close();
    ahead.close();
  });

  it('cuts a client that does not read, while a reading client gets every fact once, in order', async () => {
    // A client that sends its request and then never reads: its socket's buffers fill.
    const stalled = connect(Number(new URL(a.url).port), '127.0.0.1');
    await new Promise<void>((r) => stalled.once('connect', () => r()));
    stalled.write(`GET /api/v1/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.owner}\r\n\r\n`);
    let stalledText = '';
    stalled.once('data', (d) => (stalledText += d.toString()));
    await until(() => (stalledText.includes('200') ? true : undefined), EVENTUALLY, 'the stalled stream answered');
    stalled.pause();
    let stalledEnded = false;
    stalled.on('close', () => (stalledEnded = true));
    const reading = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    await reading.ready;
    // 800 facts of ~20 KB (16 MB) in 8 commits of 2 MB: far past what the kernel (a few MB) and the
    // 256 KiB bound hold for the client that does not read. Each commit waits until the reading
    // client has the one before: a reader is cut only when it is still behind at the next hand-out,
    // so the test paces itself on its reader, whatever the machine's speed, instead of racing it.
    const filler = 'x'.repeat(20_000);
    const readSoFar = () => reading.events.filter((e) => e.event === 'import.finished').map((e) => e.data.n);
    for (let i = 0; i < 8; i++) {
      await sql`insert into live_events (type, data) select 'import.finished', jsonb_build_object('n', ${i} * 100 + g, 'filler', ${filler}::text) from generate_series(1, 100) g`.execute(
        t.db,
      );
      await until(() => (readSoFar().length >= (i + 1) * 100 ? true : undefined), EVENTUALLY, `commit ${i + 1} on the reading stream`);
    }
    const got = readSoFar();
    expect(got).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
    reading.close();
    // The stalled one was cut: read now, it ends without ever seeing the last fact.
    let tail = '';
    let sawLast = false;
    stalled.on('data', (d) => {
      const text = tail + d.toString('latin1');
      if (text.includes('"n":800,')) sawLast = true;
      tail = text.slice(-16);
    });
    stalled.resume();
    await until(() => (stalledEnded ? true : undefined), EVENTUALLY, 'the stalled stream cut by the server');
    expect(sawLast).toBe(false);
    await sql`delete from live_events where type = 'import.finished'`.execute(t.db);
  });

  it('sends a tick of more than 1,000 large facts as several writes of at most 64 KiB, in order, each ending at a fact', async () => {
    // A raw HTTP/1.1 client: the body is chunked, one chunk per socket write of the server.
    const socket = connect(Number(new URL(a.url).port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`GET /api/v1/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.owner}\r\n\r\n`);
    let raw = Buffer.alloc(0);
    let headEnd = -1;
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      if (headEnd < 0) {
        headEnd = raw.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        expect(raw.subarray(0, headEnd).toString('latin1')).toMatch(/^HTTP\/1\.1 200[^]*transfer-encoding: chunked/i);
        raw = raw.subarray(headEnd + 4);
      }
      for (;;) {
        const line = raw.indexOf('\r\n');
        if (line < 0) return;
        const size = parseInt(raw.subarray(0, line).toString('latin1'), 16);
        if (raw.length < line + 2 + size + 2) return;
        chunks.push(raw.subarray(line + 2, line + 2 + size));
        raw = raw.subarray(line + 2 + size + 2);
      }
    });
    await until(() => (chunks.length > 0 ? true : undefined), EVENTUALLY, 'the stream answered');
    // 1,200 facts of ~2 KB committed at once: the feed reads them in one tick (a page of 1,000,
    // then the rest at once), 2.4 MB where one write per tick made a single 2 MB write.
    const filler = 'y'.repeat(2_000);
    await sql`insert into live_events (type, data) select 'import.finished', jsonb_build_object('n', g, 'filler', ${filler}::text) from generate_series(1, 1200) g`.execute(
      t.db,
    );
    const text = () => Buffer.concat(chunks).toString('utf8');
    await until(() => (text().includes('"n":1200,') ? true : undefined), EVENTUALLY, 'the last fact');
    socket.destroy();
    const ns = [...text().matchAll(/"n":(\d+),/g)].map((m) => Number(m[1]));
    expect(ns).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1)); // every fact once, in order
    const facts = chunks.filter((c) => c.includes('import.finished'));
    expect(facts.length).toBeGreaterThanOrEqual(Math.ceil((1200 * 2_000) / WRITE_BYTES));
    expect(Math.max(...facts.map((c) => c.length))).toBeLessThanOrEqual(WRITE_BYTES);
    for (const c of facts) expect(c.subarray(-2).toString()).toBe('\n\n'); // cut between facts, not inside one
    await sql`delete from live_events where type = 'import.finished'`.execute(t.db);
  });

  it('gives a moderator member events without the email address', async () => {
    const owner = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    const mod = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.moderator}` });
    await Promise.all([owner.ready, mod.ready]);
    const res = await fetch(`${b.url}/subscribe`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: b.url },
      body: new URLSearchParams({ email: 'newcomer@example.com', utm_source: 'instagram' }),
    });
    expect(res.status).toBeLessThan(400);
    const seen = await until(() => owner.events.find((e) => e.event === 'member.created'), EVENTUALLY, 'member.created (owner)');
    expect(seen.data).toMatchObject({ email: 'newcomer@example.com' });
    expect(typeof seen.data.platform).toBe('string');
    const modSeen = await until(() => mod.events.find((e) => e.event === 'member.created'), EVENTUALLY, 'member.created (moderator)');
    expect(modSeen.data.id).toBe(seen.data.id);
    expect(JSON.stringify(mod.events)).not.toContain('@');
    owner.close();
    mod.close();
  });

  it('shows a send paused by the provider on the Live panel, on first paint and as it arrives', async () => {
    const stream = openStream(`${a.url}/api/v1/live`, { authorization: `Bearer ${tokens.owner}` });
    await stream.ready;
    const pause = (id: string, reason: 'rate_limited' | 'provider_error', error: string) =>
      t.db.transaction().execute((trx) => liveSendPaused(trx, id, { at: new Date(), reason, error }));
    await pause('7001', 'rate_limited', 'rate limited: Too many requests');
    const fact = await until(
      () => stream.events.find((e) => e.event === 'send.progress' && e.data.id === '7001'),
      EVENTUALLY,
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
      await first.getByText('Send 7002 paused by the provider (provider error)').waitFor({ timeout: EVENTUALLY });
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
    // Through the running server: wait for it (a server may learn of a direct write only by its NOTIFY).
    await waitFor(async () => badge(await page()), {
      until: (n) => n === before + 1,
      timeout: EVENTUALLY,
      what: 'the badge to count the held comment',
    });
  });
});
