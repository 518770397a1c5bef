import { describe, expect, it } from 'vitest';
import { commentNotificationsEmail, commentNotificationsSubject } from '../../emails/comment-notifications.ts';
import { BURST_RULE, detectBurst, fingerprint, similarity, type RecentComment } from '../../src/domain/community/burst.ts';
import { networkOf } from '../../src/domain/community/limits.ts';
import { nextStatus } from '../../src/domain/community/moderation.ts';
import {
  conversationRights,
  effectiveMode,
  holdAfterReports,
  holdReason,
  withinEditWindow,
  type Actor,
  type ConversationFacts,
} from '../../src/domain/community/rules.ts';
import { bestScore, orderReplies, parseSort, sortThreads } from '../../src/domain/community/sort.ts';
import { ROLES } from '../../src/domain/staff/permissions.ts';

/** The conversation's pure rules: who may talk, holds, bursts, order, moderation states. */
const anonymous: Actor = { kind: 'anonymous' };
const free: Actor = { kind: 'member', id: '1', paid: false, tierId: '1', name: 'Fay' };
const paid: Actor = { kind: 'member', id: '2', paid: true, tierId: '2', name: 'Pat' };
const staff = (role: (typeof ROLES)[number]): Actor => ({ kind: 'staff', id: '9', role, name: role });
const ctx = (over: Partial<ConversationFacts> = {}): ConversationFacts => ({
  mode: 'members',
  canReadPost: true,
  anonymousView: 'conversation',
  banned: false,
  ...over,
});

describe('who may talk', () => {
  it('follows the post, else the site', () => {
    expect(effectiveMode(null, 'members')).toBe('members');
    expect(effectiveMode('off', 'members')).toBe('off');
    expect(effectiveMode('paid', 'off')).toBe('paid');
  });

  // (actor) × (read, comment, react, moderate) for each mode.
  const matrix: Array<[string, Actor, Partial<ConversationFacts>, { read: string; comment: boolean; react: boolean; moderate: boolean }]> =
    [
      ['anonymous, site shows the conversation', anonymous, {}, { read: 'conversation', comment: false, react: false, moderate: false }],
      [
        'anonymous, site shows a count',
        anonymous,
        { anonymousView: 'count' },
        { read: 'count', comment: false, react: false, moderate: false },
      ],
      ['anonymous, gated post', anonymous, { canReadPost: false }, { read: 'count', comment: false, react: false, moderate: false }],
      ['free member, all members', free, {}, { read: 'conversation', comment: true, react: true, moderate: false }],
      ['free member, paid only', free, { mode: 'paid' }, { read: 'conversation', comment: false, react: false, moderate: false }],
      ['free member, comments off', free, { mode: 'off' }, { read: 'conversation', comment: false, react: false, moderate: false }],
      ['free member, paid post', free, { canReadPost: false }, { read: 'count', comment: false, react: false, moderate: false }],
      ['paid member, paid only', paid, { mode: 'paid' }, { read: 'conversation', comment: true, react: true, moderate: false }],
      ['paid member, comments off', paid, { mode: 'off' }, { read: 'conversation', comment: false, react: false, moderate: false }],
      ['banned paid member', paid, { banned: true }, { read: 'conversation', comment: false, react: false, moderate: false }],
      ['owner', staff('owner'), { canReadPost: false }, { read: 'conversation', comment: true, react: false, moderate: true }],
      ['admin', staff('admin'), {}, { read: 'conversation', comment: true, react: false, moderate: true }],
      ['editor', staff('editor'), {}, { read: 'conversation', comment: false, react: false, moderate: false }],
      ['moderator', staff('moderator'), { mode: 'paid' }, { read: 'conversation', comment: true, react: false, moderate: true }],
    ];
  it.each(matrix)('%s', (_name, actor, over, expected) => {
    const r = conversationRights(actor, ctx(over));
    expect({ read: r.read, comment: r.comment, react: r.react, moderate: r.moderate }).toEqual(expected);
    if (!r.comment) expect(r.reason).toBeDefined();
  });

  it('says why someone cannot comment', () => {
    expect(conversationRights(free, ctx({ mode: 'paid' })).reason).toBe('paid_only');
    expect(conversationRights(paid, ctx({ banned: true })).reason).toBe('banned');
    expect(conversationRights(free, ctx({ mode: 'off' })).reason).toBe('off');
    expect(conversationRights(anonymous, ctx()).reason).toBe('sign_in');
    expect(conversationRights(anonymous, ctx({ canReadPost: false })).reason).toBe('cannot_read');
  });
});

describe('holds', () => {
  const base = { byStaff: false, holdFirstComment: false, firstComment: false, newMember: false, hasLinks: false, burst: false };
  it('publishes an ordinary comment', () => expect(holdReason(base)).toBeNull());
  it('holds a first comment when the site says so', () => {
    expect(holdReason({ ...base, firstComment: true })).toBeNull();
    expect(holdReason({ ...base, firstComment: true, holdFirstComment: true })).toBe('first_comment');
  });
  it('holds links from new members only', () => {
    expect(holdReason({ ...base, hasLinks: true })).toBeNull();
    expect(holdReason({ ...base, hasLinks: true, newMember: true })).toBe('link_from_new_member');
  });
  it('holds a burst first of all, and never a staff reply', () => {
    expect(holdReason({ ...base, burst: true, hasLinks: true, newMember: true, firstComment: true, holdFirstComment: true })).toBe('burst');
    expect(holdReason({ ...base, byStaff: true, burst: true })).toBeNull();
  });
  it('holds a comment reported by three members', () => {
    expect(holdAfterReports(2)).toBe(false);
    expect(holdAfterReports(3)).toBe(true);
  });
  it('lets the author edit within the window', () => {
    const at = new Date('2026-01-01T10:00:00Z');
    expect(withinEditWindow(at, new Date('2026-01-01T10:14:59Z'), 15)).toBe(true);
    expect(withinEditWindow(at, new Date('2026-01-01T10:15:01Z'), 15)).toBe(false);
    expect(withinEditWindow(at, new Date('2026-01-01T10:00:01Z'), 0)).toBe(false);
  });
});

describe('bursts', () => {
  const text = 'This brand is a scam, they stole my money. Stay away and tell everyone!';
  const recent = (memberId: string, body: string, newAccount = true): RecentComment => ({
    id: `c${memberId}`,
    memberId,
    fingerprint: fingerprint(body),
    newAccount,
  });

  it('sees through punctuation, case, accents, zero-width characters and look-alike letters', () => {
    const twisted = 'THIS brand is a ѕсаm!!! they stole my m\u200boney... Stay awáy and tell everyone 😡';
    expect(similarity(fingerprint(text), fingerprint(twisted))).toBeGreaterThanOrEqual(BURST_RULE.similarity);
    expect(similarity(fingerprint(text), fingerprint('I loved the washed Ethiopian, the acidity was bright and clean.'))).toBeLessThan(0.3);
  });

  it('a changed word still counts as the same text', () => {
    expect(similarity(fingerprint(text), fingerprint(text.replace('money', 'cash')))).toBeGreaterThanOrEqual(BURST_RULE.similarity);
  });

  it('is three new accounts with near-identical text', () => {
    const candidate = { memberId: 'c', fingerprint: fingerprint(text), newAccount: true };
    expect(detectBurst(candidate, [recent('a', text)]).burst).toBe(false);
    const verdict = detectBurst(candidate, [recent('a', text), recent('b', `${text}!!`)]);
    expect(verdict).toEqual({ burst: true, matches: ['ca', 'cb'] });
  });

  it('is not one account repeating itself, old accounts, a long-time member, or short common words', () => {
    const candidate = { memberId: 'c', fingerprint: fingerprint(text), newAccount: true };
    expect(detectBurst(candidate, [recent('a', text), recent('a', text)]).burst).toBe(false);
    expect(detectBurst(candidate, [recent('a', text, false), recent('b', text, false)]).burst).toBe(false);
    expect(detectBurst({ ...candidate, newAccount: false }, [recent('a', text), recent('b', text)]).burst).toBe(false);
    const thanks = { memberId: 'c', fingerprint: fingerprint('Thanks, great!'), newAccount: true };
    expect(detectBurst(thanks, [recent('a', 'Thanks, great!'), recent('b', 'Thanks, great!')]).burst).toBe(false);
  });
});

describe('order', () => {
  const t = (id: string, minutes: number, reactions = 0, replies = 0, staffReplied = false) => ({
    id,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, minutes)),
    reactions,
    replies,
    staffReplied,
  });

  it('newest first, or best first with older first on a tie', () => {
    const list = [t('1', 0), t('2', 1, 1), t('3', 2, 0, 1), t('4', 3)];
    expect(sortThreads(list, 'newest').map((x) => x.id)).toEqual(['4', '3', '2', '1']);
    expect(sortThreads(list, 'best').map((x) => x.id)).toEqual(['3', '2', '1', '4']);
    expect(bestScore({ reactions: 2, replies: 1, staffReplied: true })).toBe(7);
    expect(parseSort('best')).toBe('best');
    expect(parseSort('<script>')).toBe('newest');
  });

  it("puts the brand's answer right under a question", () => {
    const r = (id: string, minute: number, byStaff: boolean) => ({ id, createdAt: new Date(Date.UTC(2026, 0, 1, 0, minute)), byStaff });
    expect(orderReplies([r('1', 0, false), r('2', 1, true)], true).map((x) => x.id)).toEqual(['2', '1']);
    expect(orderReplies([r('1', 0, false), r('2', 1, true)], false).map((x) => x.id)).toEqual(['1', '2']);
  });
});

describe('moderation states', () => {
  it('moves comments between published, held, hidden and deleted', () => {
    expect(nextStatus('held', 'burst', false, 'approve')).toBe('published');
    expect(nextStatus('published', null, false, 'approve')).toBeNull();
    expect(nextStatus('published', null, false, 'hide')).toBe('hidden');
    expect(nextStatus('hidden', null, false, 'restore')).toBe('published');
    expect(nextStatus('deleted', null, false, 'restore')).toBe('published');
    expect(nextStatus('held', 'reported', false, 'dismiss')).toBe('published');
    expect(nextStatus('held', 'burst', false, 'dismiss')).toBeNull();
    expect(nextStatus('deleted', null, true, 'restore')).toBeNull();
  });
});

describe('networks for rate limits', () => {
  it('groups an IPv4 /24 and an IPv6 /64', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.9')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:abcd:12:1::5')).toBe('2001:db8:abcd:12::/64');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
  });
});

describe('the notification email', () => {
  const brand = { title: 'Field Notes', accentColor: '#c2410c', siteUrl: 'https://news.example' };
  it('names what happened, escapes what members wrote, and carries the opt-out', () => {
    const email = commentNotificationsEmail({
      brand,
      name: 'Ada',
      notices: [
        {
          kind: 'reply',
          postTitle: 'Espresso',
          url: 'https://news.example/posts/espresso#comment-5',
          author: 'Bo <b>',
          excerpt: '<script>alert(1)</script>',
        },
        { kind: 'answer', postTitle: 'Roasts', url: 'https://news.example/posts/roasts#comment-6', author: 'Field Notes', excerpt: null },
      ],
      optOutUrl: 'https://news.example/conversation/unsubscribe?token=t',
    });
    expect(email.subject).toBe('2 new replies to you on Field Notes');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;script&gt;');
    expect(email.html).toContain('https://news.example/conversation/unsubscribe?token=t');
    expect(email.text).toContain('Field Notes answered your question on “Roasts”');
    expect(email.text).toContain('Stop emails about replies and answers: https://news.example/conversation/unsubscribe?token=t');
    expect(commentNotificationsSubject([{ kind: 'answer', postTitle: 'x', url: '', author: '', excerpt: null }], 'Field Notes')).toBe(
      'Field Notes answered your question',
    );
  });
});
