import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { optOutToken } from '../../src/domain/community/notifications.ts';
import { saveConversationSettings, setPostCommentsMode } from '../../src/domain/community/settings.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession } from '../../src/domain/staff/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import type { StaffRole } from '../../db/types.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';

/**
 * The conversation through the real server: the permission matrix (anonymous, free, paid,
 * banned, each staff role) × (read, comment, react, moderate), bad input, the API, opt-out.
 */
let t: TestDatabase;
let server: RunningServer;
const SLUG = 'why-we-left-the-algorithm';
let postId = '';
let seedId = '';
const cookies: Record<string, string> = {};
const tokens: Partial<Record<StaffRole, string>> = {};
const ids: Record<string, string> = {};

async function newMember(name: string, paid: boolean): Promise<string> {
  const row = await t.db
    .insertInto('members')
    .values({
      email: `${name}@example.com`,
      name,
      status: 'active',
      tier_id: sql<string>`(select id from tiers where slug = ${paid ? 'supporter' : 'free'})` as unknown as string,
      referral_code: `ref-${name}`,
      created_at: sql<Date>`now() - interval '90 days'` as unknown as Date,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  postId = (await t.db.selectFrom('posts').select('id').where('slug', '=', SLUG).executeTakeFirstOrThrow()).id;
  for (const [name, paid] of [
    ['free', false],
    ['paid', true],
    ['banned', true],
    ['author', false],
  ] as const) {
    ids[name] = await newMember(name, paid);
    cookies[name] = `hearth_member=${(await createMemberSession(t.db, ids[name]!)).token}`;
  }
  await t.db
    .insertInto('comment_bans')
    .values({ member_id: ids.banned!, until: new Date(Date.now() + 7 * 86_400_000), reason: 'test' })
    .execute();
  for (const role of ['owner', 'admin', 'editor', 'moderator'] as const) {
    const staff = await createStaffUser(t.db, {
      email: `${role}@example.com`,
      password: 'a long staff password',
      role,
      name: role === 'moderator' ? 'Mo' : '',
    });
    cookies[role] = `hearth_staff=${(await createStaffSession(t.db, staff.id)).token}`;
    tokens[role] = (await createApiToken(t.db, staff.id, 'test')).token;
  }
  seedId = (
    await t.db
      .insertInto('comments')
      .values({ post_id: postId, member_id: ids.author!, body: 'Seed comment SEEDTEXT', announced: true })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
  await saveConversationSettings(t.db, { defaultMode: 'members', anonymousView: 'conversation', holdFirstComment: false });
  await setPostCommentsMode(t.db, postId, null);
});

const post = (path: string, fields: Record<string, string>, cookie = '', headers: Record<string, string> = {}) =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, ...(cookie ? { cookie } : {}), ...headers },
    redirect: 'manual',
  });
const get = (path: string, cookie = '') => fetch(server.url + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
const api = (path: string, role: StaffRole, init: RequestInit = {}) =>
  fetch(server.url + path, {
    ...init,
    headers: { authorization: `Bearer ${tokens[role]}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

type Who = 'anonymous' | 'free' | 'paid' | 'banned' | StaffRole;
const WHO: Who[] = ['anonymous', 'free', 'paid', 'banned', 'owner', 'admin', 'editor', 'moderator'];
const cookieOf = (who: Who) => (who === 'anonymous' ? '' : cookies[who]!);

describe('the permission matrix', () => {
  // read: sees the published comment; comment: a form post is taken; react: a reaction is taken; moderate: the review queue opens.
  const expected: Record<Who, { read: boolean; comment: number; react: number; moderate: boolean }> = {
    anonymous: { read: true, comment: 401, react: 401, moderate: false },
    free: { read: true, comment: 303, react: 303, moderate: false },
    paid: { read: true, comment: 303, react: 303, moderate: false },
    banned: { read: true, comment: 403, react: 403, moderate: false },
    owner: { read: true, comment: 303, react: 403, moderate: true },
    admin: { read: true, comment: 303, react: 403, moderate: true },
    editor: { read: true, comment: 403, react: 403, moderate: false },
    moderator: { read: true, comment: 303, react: 403, moderate: true },
  };

  it.each(WHO)('%s', async (who) => {
    const want = expected[who];
    const page = await get(`/posts/${SLUG}`, cookieOf(who));
    expect(page.status).toBe(200);
    expect((await page.text()).includes('SEEDTEXT')).toBe(want.read);

    const before = await t.db
      .selectFrom('comments')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    const commented = await post(`/posts/${SLUG}/comments`, { body: `Hello from ${who}` }, cookieOf(who));
    expect(commented.status).toBe(want.comment);
    const after = await t.db
      .selectFrom('comments')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n - before.n).toBe(want.comment === 303 ? 1 : 0);
    if (want.comment !== 303) expect(await commented.text()).toMatch(/Sign in|cannot comment|role does not reply/);

    const reacted = await post(`/posts/${SLUG}/reactions`, { kind: 'like', comment: seedId }, cookieOf(who));
    expect(reacted.status).toBe(want.react);

    const queue = await get('/admin/conversation', cookieOf(who));
    if (want.moderate) expect(queue.status).toBe(200);
    else expect([303, 403]).toContain(queue.status);
    const hide = await post('/admin/conversation', { action: 'hide', id: seedId }, cookieOf(who));
    expect(hide.status).toBe(want.moderate ? 303 : who === 'editor' ? 403 : 401);
    if (want.moderate) expect((await post('/admin/conversation', { action: 'restore', id: seedId }, cookieOf(who))).status).toBe(303);
    expect((await t.db.selectFrom('comments').select('status').where('id', '=', seedId).executeTakeFirstOrThrow()).status).toBe(
      'published',
    );
  });

  it('paid only: free members read but may not talk; paid members may', async () => {
    await setPostCommentsMode(t.db, postId, 'paid');
    const page = await (await get(`/posts/${SLUG}`, cookies.free)).text();
    expect(page).toContain('SEEDTEXT');
    expect(page).toContain('The conversation on this post is for paying members.');
    expect((await post(`/posts/${SLUG}/comments`, { body: 'free here' }, cookies.free)).status).toBe(403);
    expect((await post(`/posts/${SLUG}/reactions`, { kind: 'love' }, cookies.free)).status).toBe(403);
    expect((await post(`/posts/${SLUG}/comments`, { body: 'paid here' }, cookies.paid)).status).toBe(303);
  });

  it('a site showing a count: anonymous readers see how many comments and an invitation, not the text', async () => {
    await saveConversationSettings(t.db, { anonymousView: 'count' });
    const html = await (await get(`/posts/${SLUG}`)).text();
    expect(html).not.toContain('SEEDTEXT');
    expect(html).toMatch(/data-testid="comment-count">\d+ comments?</);
    expect(html).toContain('Members: sign in to join in');
  });

  it("keeps a gated post's conversation from readers who may not read it", async () => {
    const paidPost = await t.db
      .selectFrom('posts')
      .select('id')
      .where('slug', '=', 'roast-profiles-we-never-published')
      .executeTakeFirstOrThrow();
    await t.db
      .insertInto('comments')
      .values({ post_id: paidPost.id, member_id: ids.paid!, body: 'GATEDSECRET charge temperature', announced: true })
      .execute();
    await heard(server, t.db);
    for (const who of ['anonymous', 'free'] as const)
      expect(await (await get('/posts/roast-profiles-we-never-published', cookieOf(who))).text()).not.toContain('GATEDSECRET');
    expect(await (await get('/posts/roast-profiles-we-never-published', cookies.paid)).text()).toContain('GATEDSECRET');
  });
});

describe("a comment's own page (reply and report)", () => {
  it('links Reply and Report from the post, and shows the forms on the comment page only', async () => {
    const html = await (await get(`/posts/${SLUG}`, cookies.free)).text();
    expect(html).toContain(`<a href="/posts/${SLUG}/comments/${seedId}#reply">Reply</a>`);
    expect(html).toContain(`<a href="/posts/${SLUG}/comments/${seedId}#report">Report</a>`);
    expect(html).not.toContain('name="reason"');
    expect(html).not.toContain('name="parent"');
    const page = await get(`/posts/${SLUG}/comments/${seedId}`, cookies.free);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    const own = await page.text();
    expect(own).toContain('SEEDTEXT');
    expect(own).toContain(`<input type="hidden" name="parent" value="${seedId}">`);
    expect(own).toContain('<option value="spam">Spam or advertising</option>');
    expect(own).not.toContain(`comments/${seedId}#reply`);
    // The author gets the reply form but no report form; a visitor reads the comment, with no forms.
    const author = await (await get(`/posts/${SLUG}/comments/${seedId}`, cookies.author)).text();
    expect(author).toContain('name="parent"');
    expect(author).not.toContain('name="reason"');
    const visitor = await get(`/posts/${SLUG}/comments/${seedId}`);
    expect(visitor.status).toBe(200);
    const seen = await visitor.text();
    expect(seen).toContain('SEEDTEXT');
    expect(seen).not.toContain('<form method="post" action="/posts/');
    // Its forms post where they always did, and go back to the post.
    const replied = await post(`/posts/${SLUG}/comments`, { body: 'A reply from the comment page', parent: seedId }, cookies.free);
    expect(replied.status).toBe(303);
    expect(replied.headers.get('location')).toMatch(new RegExp(`^/posts/${SLUG}\\?c=posted#comment-\\d+$`));
    const reported = await post(`/posts/${SLUG}/comments/${seedId}`, { action: 'report', reason: 'spam' }, cookies.free);
    expect(reported.status).toBe(303);
    expect(reported.headers.get('location')).toBe(`/posts/${SLUG}?c=reported#conversation`);
    for (const bad of ['abc', '99999999', '-1']) expect((await get(`/posts/${SLUG}/comments/${bad}`, cookies.free)).status, bad).toBe(404);
  });

  it('refuses a comment on a paid post to readers who may not read the post, and hidden ones to others', async () => {
    const paidPost = await t.db
      .selectFrom('posts')
      .select('id')
      .where('slug', '=', 'roast-profiles-we-never-published')
      .executeTakeFirstOrThrow();
    const gated = await t.db
      .insertInto('comments')
      .values({ post_id: paidPost.id, member_id: ids.author!, body: 'PAIDONLYTEXT grind size', announced: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    await heard(server, t.db);
    const path = `/posts/roast-profiles-we-never-published/comments/${gated.id}`;
    for (const who of ['anonymous', 'free'] as const) {
      const res = await get(path, cookieOf(who));
      expect(res.status, who).toBe(404);
      expect(await res.text(), who).not.toContain('PAIDONLYTEXT');
    }
    const paid = await get(path, cookies.paid);
    expect(paid.status).toBe(200);
    const html = await paid.text();
    expect(html).toContain('PAIDONLYTEXT');
    expect(html).toContain('name="reason"');

    const hidden = await t.db
      .insertInto('comments')
      .values({ post_id: postId, member_id: ids.author!, body: 'HIDDENTEXT', status: 'hidden', announced: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    await heard(server, t.db);
    const other = await get(`/posts/${SLUG}/comments/${hidden.id}`, cookies.free);
    expect(other.status).toBe(404);
    expect(await other.text()).not.toContain('HIDDENTEXT');
    const mine = await (await get(`/posts/${SLUG}/comments/${hidden.id}`, cookies.author)).text();
    expect(mine).toContain('HIDDENTEXT');
    expect(mine).not.toContain('name="parent"');
  });
});

describe('posting through the forms', () => {
  it('redirects back to the comment, renders Markdown inert, and keeps the page private', async () => {
    const res = await post(`/posts/${SLUG}/comments`, { body: '**hi** <script>alert(1)</script> [x](javascript:alert(1))' }, cookies.free);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(new RegExp(`^/posts/${SLUG}\\?c=posted#comment-\\d+$`));
    const page = await get(`/posts/${SLUG}?c=posted`, cookies.free);
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    const html = await page.text();
    expect(html).toContain('<strong>hi</strong> &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))');
    expect(html).toContain('Your comment is posted.');
    expect(html).not.toContain('<script>alert(1)');
  });

  it('answers bad input with a clear 4xx, never a 500, and keeps the text', async () => {
    const huge = await post(`/posts/${SLUG}/comments`, { body: 'a'.repeat(12_000) }, cookies.paid);
    expect(huge.status).toBe(400);
    const text = await huge.text();
    expect(text).toContain('at most 10,000 characters');
    expect(text).toContain('aaaaaaaaaa');
    expect((await post(`/posts/${SLUG}/comments`, { body: ' \u200b\u202e ' }, cookies.paid)).status).toBe(400);
    expect((await post(`/posts/${SLUG}/comments`, { body: 'hi', parent: '99999999' }, cookies.paid)).status).toBe(404);
    expect((await post(`/posts/${SLUG}/comments`, { body: 'hi', parent: 'abc' }, cookies.paid)).status).toBe(400);
    expect((await post(`/posts/no-such-post/comments`, { body: 'hi' }, cookies.paid)).status).toBe(404);
    expect((await post(`/posts/${SLUG}/reactions`, { kind: '💩' }, cookies.paid)).status).toBe(400);
    expect((await post(`/posts/${SLUG}/comments/${seedId}`, { action: 'edit', body: 'not mine' }, cookies.paid)).status).toBe(404);
    expect((await post(`/posts/${SLUG}/comments/${seedId}`, { action: 'explode' }, cookies.paid)).status).toBe(400);
    expect(
      (await post(`/posts/${SLUG}/comments`, { body: 'from elsewhere' }, cookies.paid, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    expect((await get(`/posts/${SLUG}/comments`)).status).toBe(303);

    const nasty = ['', '\u0000', '%00', '../../etc/passwd', '<script>', 'x'.repeat(300), '1'.repeat(30), '-1', '1e99', '{"a":1}'];
    for (const value of nasty) {
      for (const [path, fields] of [
        [`/posts/${SLUG}/comments`, { body: value, parent: value, question: value }],
        [`/posts/${SLUG}/reactions`, { kind: value, comment: value }],
        [`/posts/${SLUG}/comments/${encodeURIComponent(value) || '0'}`, { action: 'report', reason: value }],
        [`/posts/${SLUG}/comments/${seedId}`, { action: value, body: value }],
      ] as const) {
        const res = await post(path, fields, cookies.free);
        expect(res.status, `${path} ${JSON.stringify(value)}`).toBeLessThan(500);
      }
      await t.db.deleteFrom('rate_limits').execute();
    }
  });

  it('refuses a flood: a member posting fast gets a 429 with Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await post(`/posts/${SLUG}/comments`, { body: `flood number ${i}` }, cookies.author)).status);
    expect(statuses.slice(0, 5)).toEqual([303, 303, 303, 303, 303]);
    expect(statuses[5]).toBe(429);
  });
});

describe('the review queue', () => {
  it('lists held and reported comments with why, and approves a burst in bulk', async () => {
    const held = [];
    for (const n of [1, 2, 3]) {
      held.push(
        (
          await t.db
            .insertInto('comments')
            .values({ post_id: postId, member_id: ids.author!, body: `HELDTEXT ${n}`, status: 'held', hold_reason: 'burst' })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id,
      );
    }
    const page = await (await get('/admin/conversation', cookies.moderator)).text();
    for (const id of held) expect(page).toContain(`value="${id}"`);
    expect(page).toContain('burst of near-identical comments from new accounts');
    expect(page).toContain('HELDTEXT 2');
    // Nobody else sees them.
    expect(await (await get(`/posts/${SLUG}`, cookies.paid)).text()).not.toContain('HELDTEXT');
    const res = await fetch(`${server.url}/admin/conversation`, {
      method: 'POST',
      body: new URLSearchParams([['action', 'bulk'], ['bulk', 'approve'], ...held.map((id) => ['ids', id] as [string, string])]),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, cookie: cookies.moderator! },
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/conversation?done=bulk');
    expect(await (await get(`/posts/${SLUG}`, cookies.paid)).text()).toContain('HELDTEXT 3');
    const log = await t.db.selectFrom('moderation_log').select(['action']).where('comment_id', 'in', held).execute();
    expect(log.map((l) => l.action)).toEqual(['approve', 'approve', 'approve']);
  });
});

describe('settings', () => {
  it("lets editors set a post's rule and owners/admins the site's, nobody else", async () => {
    expect((await post(`/admin/posts/${postId}/conversation`, { mode: 'off' }, cookies.moderator)).status).toBe(403);
    const set = await post(`/admin/posts/${postId}/conversation`, { mode: 'off' }, cookies.editor);
    expect(set.status).toBe(303);
    expect((await t.db.selectFrom('posts').select('comments_mode').where('id', '=', postId).executeTakeFirstOrThrow()).comments_mode).toBe(
      'off',
    );
    expect(await (await get(`/admin/posts/${postId}`, cookies.editor)).text()).toContain('<option value="off" selected>');
    expect((await post(`/posts/${SLUG}/comments`, { body: 'closed?' }, cookies.paid)).status).toBe(403);
    expect((await post(`/admin/posts/${postId}/conversation`, { mode: 'bogus' }, cookies.editor)).status).toBe(400);
    expect((await post(`/admin/posts/${postId}/conversation`, { mode: 'site' }, cookies.editor)).status).toBe(303);

    const form = {
      default_mode: 'paid',
      anonymous_view: 'count',
      hold_first_comment: '1',
      edit_window_minutes: '30',
      new_member_days: '3',
    };
    expect((await post('/admin/conversation/settings', form, cookies.moderator)).status).toBe(403);
    expect((await post('/admin/conversation/settings', form, cookies.admin)).status).toBe(200);
    const saved = await t.db.selectFrom('settings').select('value').where('key', '=', 'conversation').executeTakeFirstOrThrow();
    expect(saved.value).toEqual({
      defaultMode: 'paid',
      anonymousView: 'count',
      holdFirstComment: true,
      editWindowMinutes: 30,
      newMemberDays: 3,
    });
    const bad = await post('/admin/conversation/settings', { ...form, edit_window_minutes: '99999' }, cookies.admin);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('The edit window is not valid');
  });
});

describe('the API', () => {
  it('lists comments with the documented shape, by cursor, for moderators and up only', async () => {
    const res = await api(`/api/v1/comments?post=${SLUG}&status=published&limit=2`, 'moderator');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { comments: Array<Record<string, unknown>>; next: string | null };
    expect(body.comments).toHaveLength(2);
    expect(Object.keys(body.comments[0]!)).toEqual(
      expect.arrayContaining(['id', 'post_id', 'member_id', 'body', 'status', 'question', 'answered', 'created_at']),
    );
    expect(typeof body.next).toBe('string');
    const next = (await (await api(`/api/v1/comments?post=${SLUG}&status=published&limit=2&after=${body.next}`, 'moderator')).json()) as {
      comments: Array<{ id: string }>;
    };
    expect(next.comments.map((c) => c.id)).not.toContain(body.comments[1]!.id);

    expect((await api('/api/v1/comments', 'editor')).status).toBe(403);
    expect((await api('/api/v1/comments?status=bogus', 'admin')).status).toBe(400);
    expect((await api('/api/v1/comments?limit=abc', 'admin')).status).toBe(400);
    expect((await api('/api/v1/comments?after=garbage', 'admin')).status).toBe(400);
    expect(((await (await api('/api/v1/comments?status=bogus', 'admin')).json()) as { error: { code: string } }).error.code).toBe(
      'invalid_status',
    );
  });

  it('hides, restores and deletes one comment', async () => {
    const c = await t.db
      .insertInto('comments')
      .values({ post_id: postId, member_id: ids.author!, body: 'via the API', announced: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    const hidden = await api(`/api/v1/comments/${c.id}`, 'moderator', { method: 'PATCH', body: JSON.stringify({ status: 'hidden' }) });
    expect(hidden.status).toBe(200);
    expect(((await hidden.json()) as { comment: { status: string } }).comment.status).toBe('hidden');
    expect(
      (await api(`/api/v1/comments/${c.id}`, 'moderator', { method: 'PATCH', body: JSON.stringify({ status: 'hidden' }) })).status,
    ).toBe(409);
    expect((await api(`/api/v1/comments/${c.id}`, 'moderator', { method: 'PATCH', body: JSON.stringify({ status: 'held' }) })).status).toBe(
      400,
    );
    expect(
      (await api(`/api/v1/comments/${c.id}`, 'admin', { method: 'PATCH', body: JSON.stringify({ status: 'published' }) })).status,
    ).toBe(200);
    expect((await api(`/api/v1/comments/${c.id}`, 'owner', { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/api/v1/comments/${c.id}`, 'owner')).status).toBe(404);
    expect((await api(`/api/v1/comments/${c.id}`, 'editor', { method: 'DELETE' })).status).toBe(403);
  });
});

describe('opting out of reply emails', () => {
  it('takes the RFC 8058 one-click POST from a mailbox provider, and shows the choice on GET', async () => {
    const token = optOutToken(TEST_SECRET, ids.free!);
    const page = await get(`/conversation/unsubscribe?token=${encodeURIComponent(token)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You get an email when someone replies to you');
    // Opening the link (a mail scanner) opts nobody out.
    expect(
      await t.db.selectFrom('comment_notification_optouts').select('member_id').where('member_id', '=', ids.free!).execute(),
    ).toHaveLength(0);
    const oneClick = await fetch(`${server.url}/conversation/unsubscribe?token=${encodeURIComponent(token)}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(oneClick.status).toBe(200);
    expect(
      await t.db.selectFrom('comment_notification_optouts').select('member_id').where('member_id', '=', ids.free!).execute(),
    ).toHaveLength(1);
    expect((await get('/conversation/unsubscribe?token=forged.token')).status).toBe(400);
    const account = await (await get('/account', cookies.free)).text();
    expect(account).toContain('We do not email you about replies and answers.');
    expect((await post('/account/conversation', { emails: 'on' }, cookies.free)).status).toBe(303);
    expect(
      await t.db.selectFrom('comment_notification_optouts').select('member_id').where('member_id', '=', ids.free!).execute(),
    ).toHaveLength(0);
  });
});

describe('comment times', () => {
  it('are shown in the site time zone on the post page and in the review queue', async () => {
    // 12:30 UTC on 5 January 2026 is 21:30 in Tokyo.
    await t.db
      .updateTable('comments')
      .set({ created_at: new Date('2026-01-05T12:30:00Z') })
      .where('id', '=', seedId)
      .execute();
    await sql`insert into settings (key, value) values ('site', '{"timeZone": "Asia/Tokyo"}'::jsonb)
              on conflict (key) do update set value = settings.value || excluded.value`.execute(t.db);
    await heard(server, t.db);
    try {
      // The seed comment is the oldest of many: beyond the first screen, newest first.
      const page = await (await get(`/posts/${SLUG}?shown=1000`)).text();
      expect(page).toContain('<time datetime="2026-01-05T12:30:00.000Z">Jan 5, 2026, 9:30 PM Asia/Tokyo</time>');
      const all = await (await get(`/admin/conversation/comments?post=${postId}`, cookies.owner)).text();
      expect(all).toContain('Jan 5, 2026, 9:30 PM Asia/Tokyo');
    } finally {
      await sql`update settings set value = value - 'timeZone' where key = 'site'`.execute(t.db);
    }
    // Written by this test's own connection, not the server: an anonymous page cached before
    // follows when the change's notification arrives, as on any other process.
    const time = /<time datetime="2026-01-05T12:30:00.000Z">[^<]*<\/time>/;
    const utc = await waitFor(async () => time.exec(await (await get(`/posts/${SLUG}?shown=1000`)).text())?.[0], {
      until: (tag) => tag?.includes('UTC') === true,
      what: 'the comment time in UTC',
    });
    expect(utc).toContain('Jan 5, 2026, 12:30 PM UTC');
  });
});
