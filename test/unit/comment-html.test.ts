import { describe, expect, it } from 'vitest';
import { assembleThreads, type ConversationRow, type SharedConversation } from '../../src/domain/community/conversation.ts';
import type { Rights } from '../../src/domain/community/rules.ts';
import { translator } from '../../src/lib/i18n.ts';
import { threadsHtml, type ThreadsContext } from '../../src/web/comment-html.ts';

/**
 * The conversation's render caches (a comment's Markdown render, and the parts of its markup every
 * reader shares) are keyed by the comment and its last edit time; they must never serve a text the
 * comment no longer has, even when its edit time did not move (two edits within a millisecond,
 * the clock of another server), and a member's page names each comment in its reaction form.
 */

const MEMBER_RIGHTS: Rights = { read: 'conversation', comment: true, react: true, report: true, moderate: false };

function row(id: string, body: string, editedMs: number | null): ConversationRow {
  return {
    id,
    parent_id: null,
    reply_to_id: null,
    member_id: '7',
    staff_user_id: null,
    body,
    status: 'published',
    hold_reason: null,
    question: false,
    answered: false,
    created_ms: Date.UTC(2026, 10, 1, 12),
    edited_ms: editedMs,
    member_name: 'Ada',
    staff_name: null,
    remote_handle: null,
  };
}

function page(shared: SharedConversation, me: string | null = null): string {
  const { threads } = assembleThreads(shared, undefined, {
    me,
    brand: 'Hearth',
    canComment: true,
    editWindowMinutes: 15,
    sort: 'newest',
    now: new Date(Date.UTC(2026, 10, 1, 13)),
  });
  const ctx: ThreadsContext = {
    tr: translator('en'),
    slug: 'a-post',
    rights: MEMBER_RIGHTS,
    brand: 'Hearth',
    timeZone: 'UTC',
    memberActor: true,
  };
  return threadsHtml({ threads }, ctx);
}

describe('comment render caches', () => {
  it('show the new text of a comment whose edit time did not change', () => {
    const edited = Date.UTC(2026, 10, 1, 12, 5);
    // A unique id per run: the caches live as long as the module.
    const id = String(900_000_000 + Math.floor(Math.random() * 1_000_000));
    const first = page({ rows: [row(id, 'The **first** text', edited)], reactions: [] });
    expect(first).toContain('<strong>first</strong>');
    // The same comment, same edit time, another text (a new shared part, as after the post's notification).
    const second = page({ rows: [row(id, 'The *second* text', edited)], reactions: [] });
    expect(second).toContain('<em>second</em>');
    expect(second).not.toContain('first');
    // And back: no entry is left that answers for the other text.
    expect(page({ rows: [row(id, 'The **first** text', edited)], reactions: [] })).toContain('<strong>first</strong>');
  });

  it('names the comment in its reaction form and presses only the reader’s own reactions', () => {
    const id = String(901_000_000 + Math.floor(Math.random() * 1_000_000));
    const shared: SharedConversation = {
      rows: [row(id, 'Hello', null)],
      reactions: [
        { comment_id: id, kind: 'like', n: 3 },
        { comment_id: id, kind: 'love', n: 1 },
      ],
    };
    const html = page(shared);
    expect(html).toContain(`action="/posts/a-post/reactions?comment=${id}"`);
    expect(html).toMatch(/<button name="kind" value="like" aria-pressed="false">Like 3<\/button>/);
    expect(html).not.toContain('name="comment"');
    // No emoji in the markup: the stylesheet draws them.
    expect(html).not.toMatch(/[\u{1F300}-\u{1FAFF}\u2764]/u);
    const { threads } = assembleThreads(
      shared,
      { rows: [], reactions: [{ comment_id: id, kind: 'love' }] },
      {
        me: '8',
        brand: 'Hearth',
        canComment: true,
        editWindowMinutes: 15,
        sort: 'newest',
        now: new Date(Date.UTC(2026, 10, 1, 13)),
      },
    );
    const mine = threadsHtml(
      { threads },
      { tr: translator('en'), slug: 'a-post', rights: MEMBER_RIGHTS, brand: 'Hearth', timeZone: 'UTC', memberActor: true },
    );
    expect(mine).toMatch(/value="love" aria-pressed="true">Love 1</);
    expect(mine).toMatch(/value="like" aria-pressed="false">Like 3</);
  });
});

describe('a member’s page from the kept markup', () => {
  it('is the markup written in full, with only the reader’s own reactions pressed and their own comment’s forms', () => {
    const base = 902_000_000 + Math.floor(Math.random() * 1_000_000);
    const [a, b, reply] = [String(base), String(base + 1), String(base + 2)];
    const now = new Date(Date.UTC(2026, 10, 1, 12, 10));
    const shared: SharedConversation = {
      rows: [
        // Member 7's, within the edit window at `now`; member 9's; a reply by 7 to 9's.
        { ...row(a, 'Mine, **recent**', null), created_ms: Date.UTC(2026, 10, 1, 12, 5) },
        { ...row(b, 'Theirs', null), member_id: '9', member_name: 'Bea', created_ms: Date.UTC(2026, 10, 1, 12, 6) },
        { ...row(reply, 'A reply', null), parent_id: b, created_ms: Date.UTC(2026, 10, 1, 12, 7) },
      ],
      reactions: [
        { comment_id: a, kind: 'like', n: 2 },
        { comment_id: b, kind: 'love', n: 1 },
        { comment_id: reply, kind: 'thanks', n: 1 },
      ],
    };
    const ctx: ThreadsContext = {
      tr: translator('en'),
      slug: 'a-post',
      rights: MEMBER_RIGHTS,
      brand: 'Hearth',
      timeZone: 'UTC',
      memberActor: true,
    };
    const pageOf = (me: string | null, reactions: Array<{ comment_id: string; kind: string }>) => {
      const { threads } = assembleThreads(
        shared,
        { rows: [], reactions },
        { me, brand: 'Hearth', canComment: true, editWindowMinutes: 15, sort: 'newest', now },
      );
      // A copy is no kept view: written in full, the way every comment was before.
      return { kept: threadsHtml({ threads }, ctx), full: threadsHtml({ threads: structuredClone(threads) }, ctx) };
    };
    const anonymous = pageOf(null, []);
    expect(anonymous.kept).toBe(anonymous.full);
    expect(anonymous.kept).not.toContain('aria-pressed="true"');

    const eight = pageOf('8', [
      { comment_id: b, kind: 'love' },
      { comment_id: reply, kind: 'thanks' },
    ]);
    expect(eight.kept).toBe(eight.full);
    expect(eight.kept.match(/aria-pressed="true"/g)).toHaveLength(2);
    expect(eight.kept).toMatch(/value="love" aria-pressed="true">Love 1</);
    expect(eight.kept).toMatch(/value="thanks" aria-pressed="true">Thank you 1</);
    expect(eight.kept).toMatch(/value="like" aria-pressed="false">Like 2</);
    expect(eight.kept).not.toContain('<summary>Edit</summary>');

    // Member 7: their own comment has its edit and delete forms (and its text in the edit form), and no report link.
    const seven = pageOf('7', [{ comment_id: a, kind: 'like' }]);
    expect(seven.kept).toBe(seven.full);
    expect(seven.kept).toContain('<summary>Edit</summary>');
    expect(seven.kept).toContain('Mine, **recent**</textarea>');
    expect(seven.kept).toMatch(/value="like" aria-pressed="true">Like 2</);
    expect(seven.kept).not.toContain(`/comments/${a}#report`);
    expect(seven.kept).toContain(`/comments/${b}#report`);

    // Nothing of one member's page stays in the next one's.
    const nine = pageOf('9', []);
    expect(nine.kept).toBe(nine.full);
    expect(nine.kept).not.toContain('aria-pressed="true"');
    expect(
      pageOf('8', [
        { comment_id: b, kind: 'love' },
        { comment_id: reply, kind: 'thanks' },
      ]).kept,
    ).toBe(eight.kept);
  });
});
