import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  paidWelcomeEmail,
  paymentFailedEmail,
  membershipEndedEmail,
  trialEndingEmail,
  giftEmail,
  giftReceiptEmail,
} from '../../emails/billing.ts';
import { commentNotificationsEmail } from '../../emails/comment-notifications.ts';
import { confirmEmailChangeEmail } from '../../emails/confirm-email-change.ts';
import { confirmSubscriptionEmail } from '../../emails/confirm-subscription.ts';
import { personalize, renderPostEmail } from '../../emails/post.ts';
import { renderAutomationEmail } from '../../emails/automation.ts';
import { referralMilestoneEmail } from '../../emails/referral-milestone.ts';
import { signInEmail } from '../../emails/sign-in.ts';
import { welcomeEmail } from '../../emails/welcome.ts';
import type { RenderedEmail } from '../../emails/html.ts';
import { availableLanguages, formatDate, loadCatalogues, t, translator } from '../../src/lib/i18n.ts';
import { acceptLanguageMatch } from '../../src/web/locale.ts';
import { catalogue, englishLeftovers, LOCALES, visibleText } from '../helpers/i18n.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|astro)$/.test(name) ? [path] : [];
  });
}

describe('the catalogues', () => {
  const languages = readdirSync(LOCALES).filter((d) => /^[a-z]{2}$/.test(d));
  const en = catalogue('en');

  it('ship English and French', () => {
    expect(languages).toEqual(expect.arrayContaining(['en', 'fr']));
    expect(availableLanguages().map((l) => l.code)).toEqual(expect.arrayContaining(['en', 'fr']));
    expect(availableLanguages()[0]!.code).toBe('en');
  });

  it.each(languages.filter((l) => l !== 'en'))('%s has every English key and no other', (lang) => {
    const other = catalogue(lang);
    const missing = [...en.keys()].filter((k) => !other.has(k));
    const extra = [...other.keys()].filter((k) => !en.has(k));
    expect(missing).toEqual([]);
    expect(extra).toEqual([]);
  });

  it.each(languages)('every %s message parses and takes the same arguments as the English one', (lang) => {
    const args = (m: string) => new Set([...m.matchAll(/\{\s*([a-zA-Z_]+)\s*[,}]/g)].map((x) => x[1]));
    for (const [key, message] of catalogue(lang)) {
      expect(() => translator(lang).t(key, {}), key).not.toThrow(/parse|syntax/i);
      expect([...args(message)].sort(), `${lang} ${key}`).toEqual([...args(en.get(key)!)].sort());
    }
  });

  it('uses every key somewhere in the source (no dead text)', () => {
    const source = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'emails'))].map((f) => readFileSync(f, 'utf8')).join('\n');
    const unused = [...en.keys()].filter((k) => !source.includes(`'${k}'`) && !source.includes(`"${k}"`));
    expect(unused).toEqual([]);
  });

  it('a key the source uses is in the catalogue', () => {
    const source = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'emails'))].map((f) => readFileSync(f, 'utf8')).join('\n');
    // Every catalogue file is a prefix (pages., emails., reader., …): a key of any of them is checked.
    const files = readdirSync(join(LOCALES, 'en'))
      .filter((f) => f.endsWith('.json') && f !== 'meta.json')
      .map((f) => f.slice(0, -'.json'.length));
    const prefixes = [...new Set([...files, 'pages', 'emails', 'errors'])].join('|');
    const used = new Set([...source.matchAll(new RegExp(`['"]((?:${prefixes})\\.[a-zA-Z0-9_.]+)['"]`, 'g'))].map((m) => m[1]!));
    const missing = [...used].filter((k) => !en.has(k));
    expect(missing).toEqual([]);
  });

  it('a missing English key throws instead of showing the key', () => {
    expect(() => t('en', 'emails.no.such.key')).toThrow(/No message/);
  });
});

describe('a third language, added as a folder', () => {
  const c = loadCatalogues([LOCALES, join(ROOT, 'test', 'fixtures', 'locales')]);

  it('is available with its own name and direction', () => {
    const xx = availableLanguages(c).find((l) => l.code === 'xx');
    expect(xx).toEqual({ code: 'xx', name: 'Test language', dir: 'rtl' });
  });

  it('speaks its own messages and falls back to English for the rest, never to a key', () => {
    const tr = translator('xx', 'UTC', c);
    expect(tr.t('emails.welcome.subject', { site: 'Zed' })).toBe('XX welcome to Zed');
    expect(tr.t('emails.hi', { name: 'Zed' })).toBe('XX hello Zed,');
    expect(tr.t('emails.welcome.reply')).toBe('Reply to any email to reach a person.');
    expect(tr.dir).toBe('rtl');
  });
});

describe('Accept-Language at subscribe', () => {
  it('takes the best language the site has', () => {
    expect(acceptLanguageMatch('de-DE,fr;q=0.8,en;q=0.5', ['en', 'fr'])).toBe('fr');
    expect(acceptLanguageMatch('fr-CA', ['en', 'fr'])).toBe('fr');
    expect(acceptLanguageMatch('en;q=0.4, fr;q=0.9', ['en', 'fr'])).toBe('fr');
    expect(acceptLanguageMatch('de, *;q=0.1', ['en', 'fr'])).toBeNull();
    expect(acceptLanguageMatch(null, ['en', 'fr'])).toBeNull();
    expect(acceptLanguageMatch('fr;q=0', ['en', 'fr'])).toBeNull();
  });
});

/** Every automatic email, with French data, in one language. */
function everyEmail(lang: string): Record<string, RenderedEmail> {
  const brand = { title: 'Le Potager', accentColor: '#9a3412', siteUrl: 'https://potager.example' };
  const post = renderPostEmail({
    brand,
    title: 'Semis d’automne',
    url: 'https://potager.example/posts/semis',
    bodyHtml: '<p>Les radis.</p>\n<p>{{referral}}</p>',
    cut: true,
    upgradeUrl: 'https://potager.example/account',
    lang,
  });
  const automation = renderAutomationEmail({
    brand,
    subject: 'Bonjour',
    preheader: null,
    bodyHtml: '<p>Salut.</p>\n<p>{{referral}}</p>',
    lang,
  });
  const slots = {
    name: 'Camille',
    unsubscribe_url: 'https://potager.example/u',
    preferences_url: 'https://potager.example/p',
    referral_url: 'https://potager.example/r/x',
  };
  return {
    confirm: confirmSubscriptionEmail({
      lang,
      brand,
      name: 'Camille',
      newsletters: ['La Gazette'],
      confirmUrl: 'https://potager.example/c',
      validDays: 7,
    }),
    welcome: welcomeEmail({ lang, brand, name: 'Camille', newsletters: ['La Gazette'], preferencesUrl: 'https://potager.example/p' }),
    welcomeAnonymous: welcomeEmail({ lang, brand, name: null, newsletters: [], preferencesUrl: 'https://potager.example/p' }),
    signIn: signInEmail({ lang, brand, link: 'https://potager.example/s', code: '123456', newMember: true }),
    signInKnown: signInEmail({ lang, brand, link: 'https://potager.example/s', code: '123456', newMember: false }),
    emailChange: confirmEmailChangeEmail({ lang, brand, link: 'https://potager.example/e', newEmail: 'camille@potager.example' }),
    paidWelcome: paidWelcomeEmail({ lang, brand, tierName: 'Soutien' }),
    paymentFailed: paymentFailedEmail({ lang, brand, tierName: 'Soutien', graceDays: 7 }),
    membershipEnded: membershipEndedEmail({ lang, brand, tierName: 'Soutien' }),
    trialCharge: trialEndingEmail({ lang, brand, tierName: 'Soutien', trialEnd: '3 mars 2027', amount: '5,00 €', withCard: true }),
    trialEnds: trialEndingEmail({ lang, brand, tierName: 'Soutien', trialEnd: '3 mars 2027', amount: '5,00 €', withCard: false }),
    giftReceipt: giftReceiptEmail({
      lang,
      brand,
      tierName: 'Soutien',
      months: 3,
      deliverOn: '3 mars 2027',
      recipient: 'lou@potager.example',
    }),
    giftReceiptBuyer: giftReceiptEmail({ lang, brand, tierName: 'Soutien', months: 1, deliverOn: '3 mars 2027', recipient: null }),
    gift: giftEmail({
      lang,
      brand,
      tierName: 'Soutien',
      months: 3,
      message: 'Bonne lecture',
      redeemUrl: 'https://potager.example/g',
      forBuyer: false,
    }),
    giftBuyer: giftEmail({
      lang,
      brand,
      tierName: 'Soutien',
      months: 1,
      message: '',
      redeemUrl: 'https://potager.example/g',
      forBuyer: true,
    }),
    milestone: referralMilestoneEmail({
      lang,
      brand,
      name: 'Camille',
      referrals: 3,
      description: 'un mois offert',
      reward: { kind: 'comp', tierName: 'Soutien', days: 30, until: new Date('2027-03-03T12:00:00Z') },
      referralUrl: 'https://potager.example/r/x',
      next: { threshold: 5, description: 'un carnet' },
    }),
    milestoneBanked: referralMilestoneEmail({
      lang,
      brand,
      name: null,
      referrals: 1,
      description: 'un mois offert',
      reward: { kind: 'comp_banked', tierName: 'Soutien', days: 30 },
      referralUrl: 'https://potager.example/r/x',
      next: null,
    }),
    milestoneManual: referralMilestoneEmail({
      lang,
      brand,
      name: null,
      referrals: 1,
      description: 'un carnet',
      reward: { kind: 'manual' },
      referralUrl: 'https://potager.example/r/x',
      next: null,
    }),
    comments: commentNotificationsEmail({
      lang,
      brand,
      name: 'Camille',
      notices: [
        { kind: 'reply', postTitle: 'Semis', url: 'https://potager.example/posts/semis#c', author: 'Lou', excerpt: 'Merci !' },
        { kind: 'answer', postTitle: 'Semis', url: 'https://potager.example/posts/semis#d', author: 'Le Potager', excerpt: null },
      ],
      optOutUrl: 'https://potager.example/o',
    }),
    commentAnswer: commentNotificationsEmail({
      lang,
      brand,
      name: null,
      notices: [{ kind: 'answer', postTitle: 'Semis', url: 'https://potager.example/posts/semis#d', author: 'Le Potager', excerpt: null }],
      optOutUrl: 'https://potager.example/o',
    }),
    commentReplies: commentNotificationsEmail({
      lang,
      brand,
      name: null,
      notices: [
        { kind: 'reply', postTitle: 'Semis', url: 'https://potager.example/posts/semis#d', author: 'Lou', excerpt: null },
        { kind: 'reply', postTitle: 'Semis', url: 'https://potager.example/posts/semis#e', author: 'Lou', excerpt: null },
      ],
      optOutUrl: 'https://potager.example/o',
    }),
    commentAnswers: commentNotificationsEmail({
      lang,
      brand,
      name: null,
      notices: [
        { kind: 'answer', postTitle: 'Semis', url: 'https://potager.example/posts/semis#d', author: 'Le Potager', excerpt: null },
        { kind: 'answer', postTitle: 'Semis', url: 'https://potager.example/posts/semis#e', author: 'Le Potager', excerpt: null },
      ],
      optOutUrl: 'https://potager.example/o',
    }),
    post: personalize(post, slots),
    automation: personalize(automation, slots),
  };
}

describe('every automatic email in French', () => {
  const emails = everyEmail('fr');
  it.each(Object.keys(emails))('%s has no English left and says lang="fr"', (name) => {
    const email = emails[name]!;
    expect(email.html).toMatch(/<html lang="fr" dir="ltr"[ >]/);
    for (const part of [email.subject, visibleText(email.html), email.text.replace(/https?:\/\/\S+/g, ' ')])
      expect(englishLeftovers(part, 'fr', ['Le Potager'])).toEqual([]);
  });

  it('the same emails in English are English (the check can fail)', () => {
    const english = everyEmail('en');
    expect(english.welcome!.html).toContain('<html lang="en"');
    expect(englishLeftovers(visibleText(english.welcome!.html), 'fr').length).toBeGreaterThan(0);
    expect(english.confirm!.subject).toBe('Confirm your subscription to Le Potager');
    expect(emails.confirm!.subject).toBe('Confirmez votre abonnement à Le Potager');
  });

  it('writes dates in the language and the site time zone', () => {
    const d = new Date('2027-03-03T23:30:00Z');
    expect(formatDate('fr', d, 'Europe/Paris')).toBe('4 mars 2027');
    expect(formatDate('en', d, 'UTC')).toBe('March 3, 2027');
    expect(visibleText(emails.milestone!.html)).toContain('3 mars 2027');
  });

  it('the post email keeps its slots and links in French', () => {
    expect(emails.post!.html).toContain('Bonjour Camille,');
    expect(emails.post!.html).toContain('href="https://potager.example/account"');
    expect(emails.post!.html).toContain('Lire dans le navigateur');
    expect(emails.post!.text).toContain('Se désabonner: https://potager.example/u');
  });
});
