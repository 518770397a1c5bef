import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import {
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
  ConflictError,
} from '../../src/lib/errors.ts';
import { deleteMember, exportMemberData } from '../../src/domain/members/preferences.ts';
import {
  deleteOwnComment,
  editComment,
  findConversationPost,
  postComment,
  setQuestion,
  type ConversationPost,
} from '../../src/domain/community/comments.ts';
import { loadConversation } from '../../src/domain/community/conversation.ts';
import { answerQuestion, banMember, liftBan, moderateComment, reportComment } from '../../src/domain/community/moderation.ts';
import { listComments, questionsInbox, reviewQueue } from '../../src/domain/community/review.ts';
import { commentJson } from '../../src/web/api/comment.ts';
import { parseCommentFilter } from '../../src/web/comment-filter.ts';
import {
  conversationEmailsOn,
  optOutToken,
  readOptOutToken,
  sendCommentNotifications,
  setConversationEmails,
} from '../../src/domain/community/notifications.ts';
import { toggleReaction } from '../../src/domain/community/reactions.ts';
import type { Actor } from '../../src/domain/community/rules.ts';
import { saveConversationSettings, setPostCommentsMode } from '../../src/domain/community/settings.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';

/** The conversation on a real PostgreSQL: holds, bursts, questions, notifications, moderation. */
let t: TestDatabase;
let publicPost: ConversationPost;
let paidPost: ConversationPost;
let seq = 0;
const ctx = { secret: TEST_SECRET, siteUrl: 'https://news.example' };
const moderator: Actor = { kind: 'staff', id: '0', role: 'moderator', name: 'Mo' };

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  publicPost = (await findConversationPost(t.db, 'why-we-left-the-algorithm'))!;
  paidPost = (await findConversationPost(t.db, 'roast-profiles-we-never-published'))!;
  const staff = await t.db
    .insertInto('staff_users')
    .values({ email: 'mo@example.com', name: 'Mo', password_hash: 'x', role: 'moderator' })
    .returning('id')
    .executeTakeFirstOrThrow();
  (moderator as { id: string }).id = staff.id;
});
afterAll(async () => {
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
  await saveConversationSettings(t.db, { holdFirstComment: false, defaultMode: 'members', anonymousView: 'conversation' });
});

/** A member: paid or free, joined `ageDays` ago (old members by default: no new-member holds). */
async function member(options: { paid?: boolean; ageDays?: number; name?: string } = {}): Promise<Extract<Actor, { kind: 'member' }>> {
  const n = ++seq;
  const tier = await t.db
    .selectFrom('tiers')
    .select('id')
    .where('slug', '=', options.paid ? 'supporter' : 'free')
    .executeTakeFirstOrThrow();
  const row = await t.db
    .insertInto('members')
    .values({
      email: `m${n}-${Date.now()}@example.com`,
      name: options.name ?? `Member ${n}`,
      status: 'active',
      tier_id: tier.id,
      referral_code: `code${n}x${Date.now()}`,
      created_at: sql<Date>`now() - make_interval(days => ${options.ageDays ?? 60})` as unknown as Date,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { kind: 'member', id: row.id, paid: Boolean(options.paid), tierId: tier.id, name: options.name ?? `Member ${n}` };
}

const say = (actor: Actor, body: string, extra: { parentId?: string; question?: boolean; post?: ConversationPost } = {}) =>
  postComment(t.db, ctx, actor, extra.post ?? publicPost, {
    body,
    parentId: extra.parentId,
    question: extra.question,
    clientIp: `10.${seq % 250}.0.1`,
  });

// Every thread, not only the first screen: the tests below look for comments among many.
const view = (actor: Actor, post = publicPost) => loadConversation(t.db, { post, actor, sort: 'newest', shown: 1_000 });
const texts = async (actor: Actor, post = publicPost) =>
  (await view(actor, post)).threads.flatMap((th) => [th.comment, ...th.replies]).map((c) => c.html);

describe('talking', () => {
  it('publishes a comment with one level of replies, records events, and shows it to everyone who may read', async () => {
    const ada = await member({ name: 'Ada' });
    const bo = await member({ name: 'Bo' });
    const top = await say(ada, 'First **thoughts**');
    expect(top.status).toBe('published');
    const reply = await say(bo, 'A reply', { parentId: top.id });
    // A reply to a reply hangs under the same top-level comment, and says whom it answers.
    const nested = await say(ada, 'A reply to the reply', { parentId: reply.id });
    const rows = await t.db
      .selectFrom('comments')
      .select(['id', 'parent_id', 'reply_to_id'])
      .where('id', 'in', [reply.id, nested.id])
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.parent_id)).toEqual([top.id, top.id]);
    expect(rows[1]!.reply_to_id).toBe(reply.id);

    const anonymous = await view({ kind: 'anonymous' });
    const thread = anonymous.threads.find((th) => th.comment.id === top.id)!;
    expect(thread.comment.html).toBe('<p>First <strong>thoughts</strong></p>\n');
    expect(thread.replies.map((r) => r.author)).toEqual(['Bo', 'Ada']);
    expect(thread.replies[1]!.replyingTo).toBe('Bo');
    expect(anonymous.rights.comment).toBe(false);

    const events = await t.db
      .selectFrom('events')
      .select(['type', 'member_id'])
      .where('type', '=', 'comment')
      .where('member_id', 'in', [ada.id, bo.id])
      .execute();
    expect(events).toHaveLength(3);
  });

  it('refuses who may not talk: anonymous, free members on a paid-only post, banned members, editors', async () => {
    await expect(say({ kind: 'anonymous' }, 'hi')).rejects.toThrow(UnauthorizedError);
    const free = await member();
    await setPostCommentsMode(t.db, publicPost.id, 'paid');
    const post = (await findConversationPost(t.db, publicPost.slug))!;
    await expect(say(free, 'hi', { post })).rejects.toThrow(/for paying members/);
    const paid = await member({ paid: true });
    expect((await say(paid, 'paid hello', { post })).status).toBe('published');
    await setPostCommentsMode(t.db, publicPost.id, null);

    await banMember(t.db, moderator.id, free.id, new Date(Date.now() + 86_400_000), 'rude');
    await expect(say(free, 'hi')).rejects.toThrow(ForbiddenError);
    await expect(toggleReaction(t.db, TEST_SECRET, free, publicPost, { kind: 'like' })).rejects.toThrow(ForbiddenError);
    expect((await view(free)).notice).toMatch(/cannot comment or react until/);
    await liftBan(t.db, moderator.id, free.id);
    expect((await say(free, 'back again')).status).toBe('published');

    await expect(say({ kind: 'staff', id: moderator.id, role: 'editor', name: 'Ed' }, 'hi')).rejects.toThrow(ForbiddenError);
    await expect(banMember(t.db, moderator.id, free.id, new Date(Date.now() - 1000), '')).rejects.toThrow(ValidationError);
  });

  it('keeps the conversation of a gated post from readers who may not read the post', async () => {
    const paid = await member({ paid: true });
    await say(paid, 'The 205 °C charge worked for me', { post: paidPost });
    const free = await member();
    const seen = await view(free, paidPost);
    expect(seen.rights.read).toBe('count');
    expect(seen.threads).toEqual([]);
    expect(seen.count).toBeGreaterThanOrEqual(1);
    await expect(say(free, 'let me in', { post: paidPost })).rejects.toThrow(ForbiddenError);
    expect((await texts(paid, paidPost)).join()).toContain('205 °C');
  });

  it('lets the author edit within the window, erase, and mark a question; nobody else', async () => {
    const ada = await member();
    const bo = await member();
    const c = await say(ada, 'Typo hree');
    await expect(editComment(t.db, bo, publicPost, c.id, 'hijack')).rejects.toThrow(NotFoundError);
    expect((await editComment(t.db, ada, publicPost, c.id, 'Typo here')).status).toBe('published');
    await setQuestion(t.db, ada, c.id, true);
    expect(
      await t.db.selectFrom('comments').select(['body', 'question', 'edited_at']).where('id', '=', c.id).executeTakeFirstOrThrow(),
    ).toMatchObject({ body: 'Typo here', question: true });
    await t.db
      .updateTable('comments')
      .set({ created_at: sql<Date>`now() - interval '16 minutes'` as unknown as Date })
      .where('id', '=', c.id)
      .execute();
    await expect(editComment(t.db, ada, publicPost, c.id, 'too late')).rejects.toThrow(/15 minutes/);

    const reply = await say(bo, 'kept reply', { parentId: c.id });
    await deleteOwnComment(t.db, ada, c.id);
    const erased = await t.db.selectFrom('comments').select(['status', 'body', 'erased']).where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(erased).toEqual({ status: 'deleted', body: '', erased: true });
    const thread = (await view(bo)).threads.find((th) => th.comment.id === c.id)!;
    expect(thread.comment.state).toBe('removed');
    expect(thread.replies.map((r) => r.id)).toEqual([reply.id]);
    await expect(moderateComment(t.db, moderator.id, c.id, 'restore')).rejects.toThrow(ConflictError);
  });

  it('limits a member to a few comments a minute', async () => {
    const fast = await member();
    for (let i = 0; i < 5; i++) await say(fast, `comment number ${i}`);
    await expect(say(fast, 'one too many')).rejects.toThrow(RateLimitedError);
  });
});

describe('holds', () => {
  it("holds a member's first comment when the site says so, shows it to its author alone, and publishes it on approval", async () => {
    await saveConversationSettings(t.db, { holdFirstComment: true });
    const newcomer = await member();
    const other = await member();
    const first = await say(newcomer, 'Hello everyone, first time here');
    expect(first).toMatchObject({ status: 'held', holdReason: 'first_comment' });
    // Until approved, the next one waits too: nothing of theirs has been published yet.
    expect((await say(newcomer, 'Anyone there?')).status).toBe('held');
    expect((await texts(other)).join()).not.toContain('first time here');
    const own = (await view(newcomer)).threads.find((th) => th.comment.id === first.id)!;
    expect(own.comment.state).toBe('held');
    expect(
      await t.db.selectFrom('events').select('id').where('member_id', '=', newcomer.id).where('type', '=', 'comment').execute(),
    ).toHaveLength(0);

    expect((await reviewQueue(t.db)).items.map((i) => i.id)).toContain(first.id);
    await moderateComment(t.db, moderator.id, first.id, 'approve');
    await moderateComment(t.db, moderator.id, first.id, 'hide');
    await moderateComment(t.db, moderator.id, first.id, 'restore');
    expect((await texts(other)).join()).toContain('first time here');
    // Its engagement event is recorded once, however often it is republished.
    expect(
      await t.db.selectFrom('events').select('id').where('member_id', '=', newcomer.id).where('type', '=', 'comment').execute(),
    ).toHaveLength(1);
    expect((await say(newcomer, 'Glad to be here')).status).toBe('published');
  });

  it('holds links from new members, also when an edit adds one, but not from established members', async () => {
    const fresh = await member({ ageDays: 1 });
    const old = await member({ ageDays: 400 });
    expect(await say(fresh, 'Great deals at cheap-beans.example.com')).toMatchObject({
      status: 'held',
      holdReason: 'link_from_new_member',
    });
    expect((await say(old, 'My notes: https://old.example/notes')).status).toBe('published');
    const clean = await say(fresh, 'No link in this one at first');
    expect(clean.status).toBe('published');
    expect((await editComment(t.db, fresh, publicPost, clean.id, 'Now with [a link](https://spam.example)')).status).toBe('held');
  });

  it('holds a burst: several new accounts posting near-identical text within minutes, the earlier ones too', async () => {
    const attack = 'Do not buy from this roastery, they sell stale beans and ignore refunds.';
    const bots = await Promise.all([0, 1, 2].map(() => member({ ageDays: 0 })));
    const a = await say(bots[0]!, attack);
    const b = await say(bots[1]!, `${attack.toUpperCase()}!!`);
    expect([a.status, b.status]).toEqual(['published', 'published']);
    const c = await say(bots[2]!, attack.replace('stale', 'st\u200bale').replace('beans', 'bеans'));
    expect(c).toMatchObject({ status: 'held', holdReason: 'burst' });
    const statuses = await t.db.selectFrom('comments').select(['id', 'status', 'hold_reason']).where('id', 'in', [a.id, b.id]).execute();
    expect(statuses.every((s) => s.status === 'held' && s.hold_reason === 'burst')).toBe(true);
    // An established member saying the same is not part of it.
    expect((await say(await member(), attack)).status).toBe('published');
    const queue = await reviewQueue(t.db);
    expect(queue.items.filter((i) => i.holdReason === 'burst').map((i) => i.id)).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
  });

  it('holds a comment reported by three members; a member cannot report their own', async () => {
    const author = await member();
    const c = await say(author, 'A spicy take on light roasts');
    await expect(reportComment(t.db, TEST_SECRET, author, publicPost, c.id, 'spam')).rejects.toThrow(/own comment/);
    await expect(reportComment(t.db, TEST_SECRET, author, publicPost, c.id, 'because')).rejects.toThrow(ValidationError);
    // Members of a few weeks weigh one each (rules.ts reportWeight): three hide.
    const reporters = await Promise.all([0, 1, 2].map(() => member({ ageDays: 10 })));
    expect(await reportComment(t.db, TEST_SECRET, reporters[0]!, publicPost, c.id, 'abuse')).toEqual({ held: false });
    await reportComment(t.db, TEST_SECRET, reporters[0]!, publicPost, c.id, 'abuse'); // the same member twice counts once
    expect(await reportComment(t.db, TEST_SECRET, reporters[1]!, publicPost, c.id, 'spam')).toEqual({ held: false });
    expect((await reviewQueue(t.db)).items.find((i) => i.id === c.id)?.reports).toEqual(
      expect.arrayContaining([{ reason: 'abuse', count: 1 }]),
    );
    expect(await reportComment(t.db, TEST_SECRET, reporters[2]!, publicPost, c.id, 'off_topic')).toEqual({ held: true });
    expect((await reviewQueue(t.db)).items.find((i) => i.id === c.id)?.holdNote).toMatch(/^Reports weigh 3 \(3 reports/);
    await moderateComment(t.db, moderator.id, c.id, 'dismiss');
    expect((await t.db.selectFrom('comments').select('status').where('id', '=', c.id).executeTakeFirstOrThrow()).status).toBe('published');
  });

  it('weighs reports: five accounts made today do not hide a comment, two long-standing members do', async () => {
    const author = await member();
    const a = await say(author, 'Another take on light roasts, milder');
    const fresh = await Promise.all([0, 1, 2, 3, 4].map(() => member({ ageDays: 0 })));
    for (const r of fresh) expect(await reportComment(t.db, TEST_SECRET, r, publicPost, a.id, 'spam')).toEqual({ held: false });
    expect((await t.db.selectFrom('comments').select('status').where('id', '=', a.id).executeTakeFirstOrThrow()).status).toBe('published');

    const b = await say(author, 'A third take on light roasts, bolder');
    const old = await Promise.all([0, 1].map(() => member({ ageDays: 400 })));
    expect(await reportComment(t.db, TEST_SECRET, old[0]!, publicPost, b.id, 'abuse')).toEqual({ held: false });
    expect(await reportComment(t.db, TEST_SECRET, old[1]!, publicPost, b.id, 'abuse')).toEqual({ held: true });
    const row = await t.db.selectFrom('comments').select(['status', 'hold_note']).where('id', '=', b.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('held');
    expect(row.hold_note).toBe(
      'Reports weigh 4 (2 reports: 2 from long-standing members never moderated, 0 from accounts made today); 3 hides.',
    );
  });
});

describe('reactions', () => {
  it('toggles one of each kind per member on posts and comments, counting each addition as an event', async () => {
    const ada = await member();
    const c = await say(ada, 'React to me');
    const bo = await member();
    expect(await toggleReaction(t.db, TEST_SECRET, bo, publicPost, { kind: 'love', commentId: c.id })).toEqual({ on: true });
    expect(await toggleReaction(t.db, TEST_SECRET, bo, publicPost, { kind: 'like', commentId: c.id })).toEqual({ on: true });
    expect(await toggleReaction(t.db, TEST_SECRET, bo, publicPost, { kind: 'love' })).toEqual({ on: true });
    expect(await toggleReaction(t.db, TEST_SECRET, ada, publicPost, { kind: 'love', commentId: c.id })).toEqual({ on: true });
    expect(await toggleReaction(t.db, TEST_SECRET, bo, publicPost, { kind: 'like', commentId: c.id })).toEqual({ on: false });
    await expect(toggleReaction(t.db, TEST_SECRET, bo, publicPost, { kind: 'poop' })).rejects.toThrow(ValidationError);
    await expect(toggleReaction(t.db, TEST_SECRET, moderator, publicPost, { kind: 'like' })).rejects.toThrow(ForbiddenError);

    const seen = await view(bo);
    const mine = seen.threads.find((th) => th.comment.id === c.id)!.comment.reactions;
    expect(mine.find((r) => r.kind === 'love')).toMatchObject({ count: 2, mine: true });
    expect(mine.find((r) => r.kind === 'like')).toMatchObject({ count: 0, mine: false });
    expect(seen.postReactions.find((r) => r.kind === 'love')).toMatchObject({ mine: true });
    expect(
      await t.db.selectFrom('events').select('id').where('member_id', '=', bo.id).where('type', '=', 'reaction').execute(),
    ).toHaveLength(3);
  });
});

describe('questions', () => {
  it('orders the inbox unanswered first, then oldest first, filters by post, and pages by cursor', async () => {
    await t.db.deleteFrom('comments').where('question', '=', true).execute();
    const asker = await member({ paid: true });
    const ask = async (minutesAgo: number, post = publicPost) => {
      const q = await say(asker, `Question asked ${minutesAgo} minutes ago?`, { question: true, post });
      await t.db
        .updateTable('comments')
        .set({ created_at: sql<Date>`now() - make_interval(mins => ${minutesAgo})` as unknown as Date })
        .where('id', '=', q.id)
        .execute();
      await t.db.deleteFrom('rate_limits').execute();
      return q.id;
    };
    const q30 = await ask(30);
    const q90 = await ask(90);
    const q10 = await ask(10, paidPost);
    const q60 = await ask(60);
    await answerQuestion(t.db, ctx, moderator, q90, 'Here is our answer.', '127.0.0.1');
    await answerQuestion(t.db, ctx, moderator, q60, 'And another.', '127.0.0.1');

    const inbox = await questionsInbox(t.db);
    expect(inbox.items.map((i) => i.id)).toEqual([q30, q10, q90, q60]);
    expect(inbox.items.find((i) => i.id === q90)!.answers.map((a) => a.by)).toEqual(['Mo']);
    const filtered = await questionsInbox(t.db, { postId: paidPost.id });
    expect(filtered.items.map((i) => i.id)).toEqual([q10]);

    const first = await questionsInbox(t.db, { limit: 3 });
    expect(first.items.map((i) => i.id)).toEqual([q30, q10, q90]);
    const second = await questionsInbox(t.db, { limit: 3, after: first.next });
    expect(second.items.map((i) => i.id)).toEqual([q60]);
    expect(second.next).toBeNull();
    await expect(questionsInbox(t.db, { after: 'garbage' })).rejects.toThrow(ValidationError);

    // The answer is a staff reply under the question; the question reads as answered.
    const thread = (await view(asker)).threads.find((th) => th.comment.id === q90)!;
    expect(thread.comment).toMatchObject({ question: true, answered: true });
    expect(thread.replies[0]).toMatchObject({ byStaff: true, author: 'Mo' });
    // A brand's answer hidden later: the question waits again.
    await moderateComment(t.db, moderator.id, thread.replies[0]!.id, 'hide');
    expect((await questionsInbox(t.db)).items.slice(0, 3).map((i) => i.id)).toContain(q90);
  });
});

describe('notifications', () => {
  async function emailsTo(memberId: string) {
    const rows = await sql<{
      payload: { message: { to: string[]; subject: string; text: string; headers: Record<string, string> }; idempotencyKey: string };
    }>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_email' and j.payload->'message'->'to'->>0 = (select email from members where id = ${memberId})
      order by j.id`.execute(t.db);
    return rows.rows.map((r) => r.payload);
  }

  it('batches replies and answers into one email per member, with a one-click opt-out and a stable key', async () => {
    const ada = await member({ name: 'Ada' });
    const bo = await member({ name: 'Bo' });
    const q = await say(ada, 'How long do you rest beans?', { question: true });
    const mine = await say(ada, 'Another thought');
    await say(ada, 'Replying to myself', { parentId: mine.id });
    await say(bo, 'Good point', { parentId: mine.id });
    await answerQuestion(t.db, ctx, moderator, q.id, 'A week for espresso.', '127.0.0.1');

    expect(await sendCommentNotifications(t.db, ctx)).toBeGreaterThanOrEqual(1);
    const emails = await emailsTo(ada.id);
    expect(emails).toHaveLength(1);
    const email = emails[0]!;
    expect(email.message.subject).toBe('2 new replies to you on Field Notes Coffee');
    expect(email.message.text).toContain('Bo replied to you');
    expect(email.message.text).toContain('Field Notes Coffee answered your question');
    expect(email.message.text).toContain('A week for espresso.');
    expect(email.message.text).not.toContain('Replying to myself');
    expect(email.idempotencyKey).toMatch(new RegExp(`^conversation-${ada.id}-\\d+$`));
    expect(email.message.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const token = /token=([^>&]+)/.exec(email.message.headers['List-Unsubscribe']!)![1]!;
    expect(readOptOutToken(TEST_SECRET, decodeURIComponent(token))).toBe(ada.id);
    expect(() => readOptOutToken(TEST_SECRET, optOutToken('another-secret-0123456789abcdef0123', ada.id))).toThrow(ValidationError);

    // A second pass sends nothing new; a new reply within 15 minutes of the last email waits.
    await sendCommentNotifications(t.db, ctx);
    await say(bo, 'One more thing', { parentId: mine.id });
    await sendCommentNotifications(t.db, ctx);
    expect(await emailsTo(ada.id)).toHaveLength(1);
    await t.db
      .updateTable('comment_notifications')
      .set({ sent_at: sql<Date>`now() - interval '16 minutes'` as unknown as Date })
      .where('member_id', '=', ada.id)
      .where('sent_at', 'is not', null)
      .execute();
    await sendCommentNotifications(t.db, ctx);
    const after = await emailsTo(ada.id);
    expect(after).toHaveLength(2);
    expect(after[1]!.message.subject).toBe('Bo replied to you');
    expect(after[1]!.idempotencyKey).not.toBe(after[0]!.idempotencyKey);
  });

  it('sends nothing to a member who opted out, and nothing for a reply hidden before the batch', async () => {
    const cy = await member();
    const dee = await member();
    const c = await say(cy, 'Opinions on natural process?');
    await setConversationEmails(t.db, cy.id, false);
    expect(await conversationEmailsOn(t.db, cy.id)).toBe(false);
    await say(dee, 'Love them', { parentId: c.id });
    await sendCommentNotifications(t.db, ctx);
    expect(await emailsTo(cy.id)).toHaveLength(0);

    await setConversationEmails(t.db, cy.id, true);
    const r = await say(dee, 'Changed my mind, rude words', { parentId: c.id });
    await moderateComment(t.db, moderator.id, r.id, 'hide');
    await sendCommentNotifications(t.db, ctx);
    expect(await emailsTo(cy.id)).toHaveLength(0);
  });

  it('tells of a held reply only once it is approved', async () => {
    const eve = await member();
    const c = await say(eve, 'Who else brews with a Moka pot?');
    await saveConversationSettings(t.db, { holdFirstComment: true });
    const newbie = await member();
    const held = await say(newbie, 'Me! Every morning.', { parentId: c.id });
    expect(held.status).toBe('held');
    await sendCommentNotifications(t.db, ctx);
    expect(await emailsTo(eve.id)).toHaveLength(0);
    await moderateComment(t.db, moderator.id, held.id, 'approve');
    await sendCommentNotifications(t.db, ctx);
    expect((await emailsTo(eve.id)).map((e) => e.message.subject)).toEqual([`${newbie.name} replied to you`]);
  });
});

describe('the API listing and erasure', () => {
  it('filters by post, status and question, newest first, by cursor', async () => {
    const m = await member();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await say(m, `listed ${i}`)).id);
    const hidden = await say(m, 'to hide');
    await moderateComment(t.db, moderator.id, hidden.id, 'hide');
    const page1 = await listComments(t.db, parseCommentFilter(new URLSearchParams({ post: publicPost.slug })), { limit: 2 });
    expect(page1.comments.map((c) => c.id)).toEqual([hidden.id, ids[2]]);
    const page2 = await listComments(t.db, parseCommentFilter(new URLSearchParams({ post: publicPost.id })), {
      limit: 2,
      after: page1.next,
    });
    expect(page2.comments.map((c) => c.id)).toEqual([ids[1], ids[0]]);
    const hiddenOnly = await listComments(t.db, parseCommentFilter(new URLSearchParams({ status: 'hidden' })));
    expect(hiddenOnly.comments.map((c) => c.id)).toContain(hidden.id);
    expect(hiddenOnly.comments.every((c) => c.status === 'hidden')).toBe(true);
    expect(Object.keys(commentJson(page1.comments[0]!))).toEqual(
      expect.arrayContaining(['id', 'post_id', 'member_id', 'body', 'status', 'question', 'answered', 'created_at']),
    );
    expect(() => parseCommentFilter(new URLSearchParams({ status: 'deleted' }))).toThrow(ValidationError);
    await expect(listComments(t.db, {}, { limit: 500 })).rejects.toThrow(ValidationError);
  });

  it('gives a member their comments and reactions in their data, and erases them with the member', async () => {
    const gone = await member();
    const c = await say(gone, 'Soon forgotten');
    await toggleReaction(t.db, TEST_SECRET, gone, publicPost, { kind: 'thanks' });
    const exported = await exportMemberData(t.db, gone.id);
    expect(exported.comments.map((x) => x.body)).toEqual(['Soon forgotten']);
    expect(exported.reactions.map((x) => x.kind)).toEqual(['thanks']);
    await deleteMember(t.db, gone.id);
    expect(await t.db.selectFrom('comments').select('id').where('id', '=', c.id).execute()).toHaveLength(0);
    expect(await t.db.selectFrom('reactions').select('id').where('member_id', '=', gone.id).execute()).toHaveLength(0);
  });
});
