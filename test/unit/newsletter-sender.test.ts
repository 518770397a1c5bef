import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { formatMailbox, parseMailbox, resolveSender } from '../../src/domain/newsletters/sender.ts';
import { slugProblem } from '../../src/domain/newsletters/newsletters.ts';
import { batchMessages, type FixedSend } from '../../src/domain/sending/payload.ts';
import type { MemberEmail } from '../../src/lib/mail-queue.ts';
import { renderPostEmail } from '../../emails/post.ts';

const mail = { siteUrl: 'https://news.example.com' };
const none = { sender_name: null, sender_email: null, reply_to: null };

describe('the sender of an email to a member', () => {
  it('is the site’s name at hearth@<host> by default, never "Hearth", replying to the From address', () => {
    expect(resolveSender({ mail, siteName: 'Field Notes Coffee', siteReplyTo: undefined, newsletter: null })).toEqual({
      from: '"Field Notes Coffee" <hearth@news.example.com>',
      replyTo: 'hearth@news.example.com',
    });
  });

  it('takes MAIL_FROM’s address, and its display name over the site’s', () => {
    expect(
      resolveSender({ mail: { ...mail, mailFrom: 'letters@example.com' }, siteName: 'Brand', siteReplyTo: null, newsletter: none }).from,
    ).toBe('"Brand" <letters@example.com>');
    expect(
      resolveSender({
        mail: { ...mail, mailFrom: 'Field Notes <letters@example.com>' },
        siteName: 'Brand',
        siteReplyTo: null,
        newsletter: none,
      }).from,
    ).toBe('"Field Notes" <letters@example.com>');
  });

  it('replies to the newsletter’s reply-to, else the site’s', () => {
    const site = { mail, siteName: 'Brand', siteReplyTo: 'hello@example.com' };
    expect(resolveSender({ ...site, newsletter: none }).replyTo).toBe('hello@example.com');
    expect(resolveSender({ ...site, newsletter: { ...none, reply_to: 'editor@example.com' } }).replyTo).toBe('editor@example.com');
  });

  it('uses the newsletter’s own sender name and address when it has them', () => {
    const sender = resolveSender({
      mail: { ...mail, mailFrom: 'Field Notes <letters@example.com>' },
      siteName: 'Brand',
      siteReplyTo: null,
      newsletter: { sender_name: 'Ada', sender_email: 'ada@example.com', reply_to: null },
    });
    expect(sender).toEqual({ from: '"Ada" <ada@example.com>', replyTo: 'ada@example.com' });
  });

  it('quotes display names and keeps header breaks out', () => {
    expect(formatMailbox('Ada "the editor", Field\\Notes', 'a@example.com')).toBe('"Ada \\"the editor\\", Field\\\\Notes" <a@example.com>');
    expect(formatMailbox('Evil\r\nBcc: x@example.com', 'a@example.com')).toBe('"Evil  Bcc: x@example.com" <a@example.com>');
    expect(parseMailbox('"Field \\"Notes\\"" <a@example.com>')).toEqual({ name: 'Field "Notes"', address: 'a@example.com' });
    expect(parseMailbox('a@example.com')).toEqual({ name: null, address: 'a@example.com' });
  });
});

describe('slugs', () => {
  it.each(['weekly', 'a', 'weekly-letter-2', '9lives', 'x'.repeat(63)])('accepts %s', (slug) => expect(slugProblem(slug)).toBeNull());
  it.each(['', 'Weekly', 'weekly letter', '-weekly', 'wéekly', 'x'.repeat(64), 'a/b', 'a_b'])('refuses "%s"', (slug) =>
    expect(slugProblem(slug)).not.toBeNull(),
  );
});

/**
 * Every path that builds an email to a member sets its Reply-To. Three locks, each able to fail:
 * the queue's type requires it; every domain file that queues or posts email resolves a sender
 * (senderFor), and the list of such files is the one we know (a new path shows up here); a send's
 * batch carries the Reply-To fixed with the send.
 */
describe('Reply-To on every email a member receives', () => {
  it('is required by the mail queue’s type', () => {
    expectTypeOf<MemberEmail>().toHaveProperty('replyTo').toEqualTypeOf<string>();
    expectTypeOf<MemberEmail>().toHaveProperty('from').toEqualTypeOf<string>();
    // @ts-expect-error a message without replyTo does not type-check
    const missing: MemberEmail = { from: 'a@example.com', to: ['b@example.com'], subject: 'x' };
    expect(missing.subject).toBe('x');
  });

  const ROOT = resolve(import.meta.dirname, '../..');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
    });
  const builders = files(join(ROOT, 'src/domain'))
    .map((path) => ({ path: relative(ROOT, path), code: readFileSync(path, 'utf8') }))
    .filter(({ code }) => /\bqueueEmail\(|\.sendBatch\(|mailer\.send\(/.test(code));

  it('finds every mail-building path we know of', () => {
    expect(builders.map((b) => b.path).sort()).toEqual(
      [
        'src/domain/billing/billing.ts', // payment failed
        'src/domain/billing/subscriptions.ts', // paid welcome, membership ended
        'src/domain/billing/trials.ts', // the trial's reminder
        'src/domain/billing/gifts.ts', // a gift to its recipient or buyer
        'src/domain/live/alerts.ts', // alerts and digests to staff
        'src/domain/community/notifications.ts', // comment notifications
        'src/domain/content/email.ts', // test-post email
        'src/domain/emails/emails.ts', // an automatic email's test send to staff
        'src/domain/imports/confirmations.ts', // import confirmations
        'src/domain/install/test-email.ts', // the install checklist's test email
        'src/domain/members/subscribe.ts', // confirmation, welcome
        'src/domain/membership/account.ts', // email change
        'src/domain/membership/signin.ts', // sign-in
        'src/domain/referrals/milestones.ts', // referral milestone
        'src/domain/sending/poster.ts', // post sends and automation emails (their engines build each batch with its sender)
      ].sort(),
    );
  });

  it.each([
    'src/domain/billing/billing.ts',
    'src/domain/billing/subscriptions.ts',
    'src/domain/billing/trials.ts',
    'src/domain/billing/gifts.ts',
    'src/domain/automations/engine.ts',
    'src/domain/live/alerts.ts',
    'src/domain/community/notifications.ts',
    'src/domain/content/email.ts',
    'src/domain/emails/emails.ts',
    'src/domain/imports/confirmations.ts',
    'src/domain/install/test-email.ts',
    'src/domain/members/subscribe.ts',
    'src/domain/membership/account.ts',
    'src/domain/membership/signin.ts',
    'src/domain/referrals/milestones.ts',
    'src/domain/sending/prepare.ts',
  ])('%s resolves the sender for each email it builds', (path) => {
    const code = readFileSync(join(ROOT, path), 'utf8');
    const mails = (code.match(/\bqueueEmail\(|\.sendBatch\(|mailer\.send\(|from_address:/g) ?? []).length;
    const senders = (code.match(/\bsenderFor\(/g) ?? []).length;
    expect(mails).toBeGreaterThan(0);
    // confirmations.ts resolves once for all its batches (one import, one set of newsletters), and
    // an automation once per batch it writes (the batch row carries from_address and reply_to).
    const oncePerBatch = path.endsWith('confirmations.ts') || path.endsWith('automations/engine.ts');
    expect(senders).toBeGreaterThanOrEqual(oncePerBatch ? 1 : mails);
  });

  it('is on every email of a send’s batch', () => {
    const send: FixedSend = {
      id: '7',
      from: '"Field Notes" <letters@example.com>',
      replyTo: 'editor@example.com',
      rendered: {
        full: renderPostEmail({
          brand: { title: 'Field Notes', accentColor: '#b45309', siteUrl: mail.siteUrl },
          title: 'Harvest',
          bodyHtml: '<p>Hello</p>',
          url: `${mail.siteUrl}/posts/harvest`,
          cut: false,
          upgradeUrl: `${mail.siteUrl}/join`,
        }),
        preview: null,
      },
      links: [],
      trackMembers: false,
    };
    const messages = batchMessages(
      send,
      [
        { memberId: '1', email: 'a@example.com', name: null, variant: 'full' },
        { memberId: '2', email: 'b@example.com', name: 'B', variant: 'full' },
      ],
      { secret: 'unit-test-secret-0123456789abcdef0123', siteUrl: mail.siteUrl },
    );
    expect(messages.map((m) => [m.from, m.replyTo])).toEqual([
      ['"Field Notes" <letters@example.com>', 'editor@example.com'],
      ['"Field Notes" <letters@example.com>', 'editor@example.com'],
    ]);
  });
});
