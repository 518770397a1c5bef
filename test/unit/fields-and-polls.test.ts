import { describe, expect, it } from 'vitest';
import { personalize, pollSlots, renderPostEmail } from '../../emails/post.ts';
import { checkFieldValues, parseFieldValue, type MemberField } from '../../src/domain/members/fields.ts';
import { isOpen } from '../../src/domain/polls/polls.ts';
import { pollToken, readPollToken } from '../../src/domain/polls/votes.ts';
import { ValidationError } from '../../src/lib/errors.ts';

const field = (type: MemberField['type'], extra: Partial<MemberField> = {}): MemberField => ({
  id: '1',
  key: 'f',
  label: 'F',
  type,
  options: type === 'choice' ? ['Paris', 'Lyon'] : [],
  memberEditable: false,
  sortOrder: 0,
  archivedAt: null,
  createdAt: new Date(),
  ...extra,
});

describe('custom field values', () => {
  it('reads each type and refuses what it cannot hold', () => {
    expect(parseFieldValue(field('number'), '41.5')).toBe(41.5);
    expect(parseFieldValue(field('number'), 7)).toBe(7);
    expect(() => parseFieldValue(field('number'), '4e3')).toThrow(ValidationError);
    expect(parseFieldValue(field('date'), '2024-02-29')).toBe('2024-02-29');
    expect(() => parseFieldValue(field('date'), '2023-02-29')).toThrow(/real date/);
    expect(parseFieldValue(field('choice'), 'lyon')).toBe('Lyon');
    expect(() => parseFieldValue(field('choice'), 'Rome')).toThrow(/one of Paris, Lyon/);
    expect(parseFieldValue(field('boolean'), 'No')).toBe(false);
    expect(parseFieldValue(field('boolean'), true)).toBe(true);
    expect(() => parseFieldValue(field('boolean'), 'perhaps')).toThrow(ValidationError);
    expect(parseFieldValue(field('text'), '  hi  ')).toBe('hi');
    expect(() => parseFieldValue(field('text'), 5)).toThrow(/must be text/);
    expect(parseFieldValue(field('text'), '')).toBeNull();
  });

  it('splits changes into values and clears, and refuses unknown, archived or (for members) staff-only fields', () => {
    const fields = [
      field('text', { key: 'a', memberEditable: true }),
      field('number', { key: 'b' }),
      field('text', { key: 'c', archivedAt: new Date() }),
    ];
    expect(checkFieldValues(fields, { a: 'x', b: null })).toEqual({ set: { a: 'x' }, unset: ['b'] });
    expect(() => checkFieldValues(fields, { c: 'x' })).toThrow(/no field "c"/);
    expect(() => checkFieldValues(fields, { zz: 1 })).toThrow(/no field/);
    expect(() => checkFieldValues(fields, { b: 1 }, { editableOnly: true })).toThrow(/not yours/);
  });
});

describe('poll tokens and blocks', () => {
  const secret = 'unit-secret-0123456789abcdef0123456789abcdef';

  it('round-trips a signed answer and refuses a changed one', () => {
    const token = pollToken(secret, { pollId: '12', memberId: '34', answer: 2, sendId: '56' });
    expect(readPollToken(secret, token)).toEqual({ pollId: '12', memberId: '34', answer: 2, sendId: '56' });
    expect(readPollToken('another-secret-0123456789abcdef0123456789ab', token)).toBeNull();
    const [body, mac] = token.split('.');
    const forged = Buffer.from('12.35.2.56').toString('base64url');
    expect(readPollToken(secret, `${forged}.${mac}`)).toBeNull();
    expect(readPollToken(secret, `${body}.${mac!.slice(0, -1)}x`)).toBeNull();
    expect(readPollToken(secret, pollToken(secret, { pollId: '12', memberId: '34', answer: 0, sendId: null }))?.sendId).toBeNull();
  });

  it('knows when a poll takes answers', () => {
    expect(isOpen({ status: 'open', closesAt: null })).toBe(true);
    expect(isOpen({ status: 'closed', closesAt: null })).toBe(false);
    expect(isOpen({ status: 'open', closesAt: new Date(Date.now() - 1000) })).toBe(false);
  });

  it('renders a block as one slot per answer, in HTML and text, and drops a block whose poll is unknown', () => {
    const email = renderPostEmail({
      brand: { title: 'Roastery', accentColor: '#b45309', siteUrl: 'https://news.example.com' },
      title: 'Vote',
      url: 'https://news.example.com/posts/vote',
      bodyHtml: '<p>Before</p>\n<p>{{poll:7}}</p>\n<p>{{poll:8}}</p>\n',
      cut: false,
      upgradeUrl: 'https://news.example.com/posts/vote',
      polls: new Map([['7', { question: 'Tea <or> coffee?', answers: ['Tea', 'Coffee'] }]]),
    });
    expect(pollSlots(email).map((s) => s.slot)).toEqual(['poll:7:0', 'poll:7:1']);
    const out = personalize(email, {
      name: 'Ana',
      unsubscribe_url: 'u',
      preferences_url: 'p',
      'poll:7:0': 'https://news.example.com/p/zero',
      'poll:7:1': 'https://news.example.com/p/one',
    });
    expect(out.html).toContain('Tea &lt;or&gt; coffee?');
    expect(out.html).toContain('href="https://news.example.com/p/one"');
    expect(out.html).not.toContain('{{poll:');
    expect(out.text).toContain('- Coffee: https://news.example.com/p/one');
    expect(out.text).not.toContain('{{poll:8}}');
  });
});
