import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPostVariants } from '../../src/domain/content/email.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { batchMessages } from '../../src/domain/sending/payload.ts';
import { pollToken } from '../../src/domain/polls/votes.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession } from '../../src/domain/staff/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Polls against the real server: links from a rendered email (one per answer, signed per member,
 * poll and answer) answer in one click, once, changeably; scanners' clicks record nothing; a bad
 * signature is a 404; the web form answers for a signed-in member; a closed poll records nothing;
 * results per answer, platform and tier in the API and the post's stats; gating is the post's.
 */
let t: TestDatabase;
let server: RunningServer;
let owner: Record<string, string>;
let staffCookie: string;
const m: string[] = [];
let pollId: string;
let postId: string;
let sendId: string;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 5);
  m.push(...(await t.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id));
  // Reader 3 pays and came from TikTok: the results split by tier and platform.
  await sql`update members set tier_id = (select id from tiers where slug = 'supporter'), tier_source = 'comp', source_platform = 'tiktok' where id = ${m[2]}`.execute(
    t.db,
  );
  const staff = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long staff password', role: 'owner' });
  owner = { authorization: `Bearer ${(await createApiToken(t.db, staff.id, 'test')).token}`, 'content-type': 'application/json' };
  staffCookie = `hearth_staff=${(await createStaffSession(t.db, staff.id)).token}`;
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const api = (path: string, init: RequestInit = {}) => fetch(`${server.url}/api/v1${path}`, { ...init, headers: owner });
const votes = () => t.db.selectFrom('poll_votes').selectAll().where('poll_id', '=', pollId).orderBy('member_id').execute();
const pollEvents = async () =>
  Number(
    (
      await t.db
        .selectFrom('engagement_events')
        .select(sql<string>`count(*)`.as('n'))
        .where('kind', '=', 'poll')
        .executeTakeFirstOrThrow()
    ).n,
  );
const click = (path: string, init: RequestInit & { ua?: string } = {}) =>
  fetch(server.url + path, { ...init, redirect: 'manual', headers: { 'user-agent': init.ua ?? BROWSER, ...(init.headers as object) } });

describe('a poll in an email', () => {
  let links: string[];

  it('is created through the API and renders one signed link per answer', async () => {
    const res = await api('/polls', {
      method: 'POST',
      body: JSON.stringify({ question: 'Which roast next?', answers: ['Light', 'Medium', 'Dark'] }),
    });
    expect(res.status).toBe(201);
    const { poll } = (await res.json()) as { poll: { id: string; block: string } };
    pollId = poll.id;
    expect(poll.block).toBe(`{{poll:${pollId}}}`);
    postId = await makePost(t.db, { title: 'Roast vote', markdown: `Tell us.\n\n${poll.block}\n\nThanks!` });
    const sent = await sql<{ id: string }>`
      insert into sends (post_id, status, segment, recipients, prepared_at)
      values (${postId}, 'sent', '{"newsletters":[],"tiers":[],"labels":[],"platforms":[],"engagement":"any"}', 5, now() - interval '1 hour')
      returning id`.execute(t.db);
    sendId = sent.rows[0]!.id;
    // Delivered an hour ago to everyone but reader 2, whose email was posted just now (a scanner's moment).
    await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at)
      select ${sendId}, id, email, 'f', 'posted', case when id = ${m[1]} then now() else now() - interval '1 hour' end from members`.execute(
      t.db,
    );
    const rendered = await renderPostVariants(t.db, server.url, postId);
    const [email] = batchMessages(
      { id: sendId, from: 'a@example.com', replyTo: null, rendered, links: [], trackMembers: false },
      [{ memberId: m[0]!, email: 'reader1@example.com', name: 'One', variant: 'full' }],
      { secret: TEST_SECRET, siteUrl: server.url },
    );
    expect(email!.html).toContain('Which roast next?');
    links = [...(email!.html ?? '').matchAll(/href="([^"]*\/p\/[^"]+)"/g)].map((x) => x[1]!);
    expect(links).toHaveLength(3);
    expect(email!.text).toContain('- Dark: ');
    expect(email!.html).not.toContain('{{poll:');
  });

  it('answers in one click and shows the results; the same click again counts once', async () => {
    const res = await click(new URL(links[1]!).pathname);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Thank you!');
    expect(html).toContain('data-total="1"');
    expect(await votes()).toMatchObject([{ member_id: m[0], answer: 1, channel: 'email', send_id: sendId, changes: 0 }]);
    expect(await pollEvents()).toBe(1);
    await click(new URL(links[1]!).pathname);
    expect(await votes()).toHaveLength(1);
    expect(await pollEvents()).toBe(1);
  });

  it('changes the answer with another link, still one vote', async () => {
    const res = await click(new URL(links[2]!).pathname);
    expect(await res.text()).toContain('Your answer is now');
    expect(await votes()).toMatchObject([{ member_id: m[0], answer: 2, changes: 1 }]);
    expect(await pollEvents()).toBe(2);
  });

  it("does not count a scanner's click: HEAD, a bot, or a click seconds after the email arrived", async () => {
    const forReader2 = `/p/${pollToken(TEST_SECRET, { pollId, memberId: m[1]!, answer: 0, sendId })}`;
    const forReader4 = `/p/${pollToken(TEST_SECRET, { pollId, memberId: m[3]!, answer: 0, sendId })}`;
    expect((await click(forReader4, { method: 'HEAD' })).status).toBe(200);
    const bot = await click(forReader4, { ua: 'Mozilla/5.0 (compatible; Proofpoint URL Defense scanner)' });
    expect(await bot.text()).toContain('Yes, record my answer');
    // Reader 2's email arrives now (the first test's "just now" is seconds behind on a busy machine,
    // and a click more than 10 s after the email is a person's): the click below is seconds after it.
    await sql`update deliveries set posted_at = now() where send_id = ${sendId} and member_id = ${m[1]!}`.execute(t.db);
    await click(forReader2);
    expect((await votes()).map((v) => v.member_id)).toEqual([m[0]]);
    // The person behind a flagged click confirms with the button (a same-origin POST).
    const confirmed = await click(forReader2, { method: 'POST', headers: { origin: server.url } });
    expect(confirmed.status).toBe(200);
    expect((await votes()).map((v) => v.member_id)).toEqual([m[0], m[1]]);
  });

  it('refuses a bad signature or a token for another poll with a 404', async () => {
    const good = new URL(links[0]!).pathname;
    const tampered = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    expect((await click(tampered)).status).toBe(404);
    expect((await click('/p/not-a-token')).status).toBe(404);
    expect(
      (await click(`/p/${pollToken('another-secret-0123456789abcdef0123456789', { pollId, memberId: m[4]!, answer: 0, sendId })}`)).status,
    ).toBe(404);
    expect((await votes()).map((v) => v.member_id)).toEqual([m[0], m[1]]);
  });
});

describe('a poll on the web', () => {
  it('shows anonymous readers the results and a sign-in prompt', async () => {
    const slug = (await t.db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirstOrThrow()).slug;
    const html = await (await fetch(`${server.url}/posts/${slug}`)).text();
    expect(html).toContain('Which roast next?');
    expect(html).toContain('Sign in</a> to answer');
    expect(html).not.toContain('class="poll-form"');
    const anon = await fetch(`${server.url}/polls/${pollId}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'answer=0',
    });
    expect(anon.status).toBe(401);
  });

  it('lets a signed-in member answer with the form (origin checked) and change it once', async () => {
    const slug = (await t.db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirstOrThrow()).slug;
    const cookie = `hearth_member=${(await createMemberSession(t.db, m[2]!)).token}`;
    const page = await (await fetch(`${server.url}/posts/${slug}`, { headers: { cookie } })).text();
    expect(page).toContain('class="poll-form"');
    const answer = (value: string, origin = server.url) =>
      fetch(`${server.url}/polls/${pollId}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ answer: value, return: `/posts/${slug}` }).toString(),
      });
    expect((await answer('0', 'https://evil.example')).status).toBe(403);
    const ok = await answer('0');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/posts/${slug}`);
    expect((await answer('1')).status).toBe(303);
    expect((await answer('1')).status).toBe(303);
    expect((await answer('7')).status).toBe(400);
    const mine = (await votes()).find((v) => v.member_id === m[2]);
    expect(mine).toMatchObject({ answer: 1, channel: 'web', changes: 1 });
    const after = await (await fetch(`${server.url}/posts/${slug}`, { headers: { cookie } })).text();
    expect(after).toContain('Change my answer');
    expect(after).toContain('(your answer)');
  });
});

describe('results and closing', () => {
  it('gives results per answer, platform and tier in the API and the post stats', async () => {
    const { poll } = (await (await api(`/polls/${pollId}`)).json()) as {
      poll: { results: { total: number; answers: Array<{ votes: number }>; by_platform: unknown[]; by_tier: unknown[] } };
    };
    expect(poll.results.total).toBe(3);
    expect(poll.results.answers.map((a) => a.votes)).toEqual([1, 1, 1]);
    expect(poll.results.by_platform).toEqual([
      { platform: 'instagram', votes: [1, 0, 1] },
      { platform: 'tiktok', votes: [0, 1, 0] },
    ]);
    expect(poll.results.by_tier).toEqual([
      { tier: 'free', votes: [1, 0, 1] },
      { tier: 'supporter', votes: [0, 1, 0] },
    ]);
    const stats = await (await fetch(`${server.url}/admin/stats/posts/${postId}`, { headers: { cookie: staffCookie } })).text();
    expect(stats).toContain('Which roast next?');
    expect(stats).toContain('tiktok');
  });

  it('records nothing from a closed poll and shows its results', async () => {
    expect((await api(`/polls/${pollId}`, { method: 'PATCH', body: JSON.stringify({ status: 'closed' }) })).status).toBe(200);
    const before = await votes();
    const res = await click(`/p/${pollToken(TEST_SECRET, { pollId, memberId: m[4]!, answer: 0, sendId })}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('This poll is closed');
    expect(html).toContain('data-total="3"');
    expect(await votes()).toEqual(before);
  });
});

describe('gating', () => {
  it('keeps a poll below the cut of a paid post from readers who may not read it', async () => {
    const res = await api('/polls', {
      method: 'POST',
      body: JSON.stringify({ question: 'Secret blend name?', answers: ['Nebula', 'Ember'] }),
    });
    const { poll } = (await res.json()) as { poll: { id: string } };
    const paid = await makePost(t.db, {
      title: 'For supporters',
      visibility: 'paid',
      markdown: `Public part.\n\n<!--more-->\n\n{{poll:${poll.id}}}`,
    });
    const slug = (await t.db.selectFrom('posts').select('slug').where('id', '=', paid).executeTakeFirstOrThrow()).slug;
    const anonymous = await (await fetch(`${server.url}/posts/${slug}`)).text();
    expect(anonymous).not.toContain('Secret blend name?');
    const freeCookie = `hearth_member=${(await createMemberSession(t.db, m[4]!)).token}`;
    expect(await (await fetch(`${server.url}/posts/${slug}`, { headers: { cookie: freeCookie } })).text()).not.toContain('Secret blend');
    const direct = await (await fetch(`${server.url}/polls/${poll.id}`, { headers: { cookie: freeCookie } })).text();
    expect(direct).not.toContain('Secret blend');
    expect(direct).toContain('data-testid="poll-gated"');
    const paidCookie = `hearth_member=${(await createMemberSession(t.db, m[2]!)).token}`;
    expect(await (await fetch(`${server.url}/posts/${slug}`, { headers: { cookie: paidCookie } })).text()).toContain('Secret blend name?');
    // The preview email variant (for members who may not read it) has no poll either.
    const variants = await renderPostVariants(t.db, server.url, paid);
    expect(variants.preview!.html.texts.join('')).not.toContain('Secret blend');
    expect(variants.full.html.texts.join('')).toContain('Secret blend');
  });
});
