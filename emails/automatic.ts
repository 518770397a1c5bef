import { formatDate, type Translator } from '../src/lib/i18n.ts';
import { membershipEndedEmail, paidWelcomeEmail, paymentFailedEmail, trialEndingEmail, giftEmail, giftReceiptEmail } from './billing.ts';
import {
  commentNotificationsEmail,
  commentNotificationsSubject,
  noticeLine,
  noticesHtml,
  noticesText,
  type CommentNotificationsData,
} from './comment-notifications.ts';
import { confirmEmailChangeEmail } from './confirm-email-change.ts';
import { confirmSubscriptionEmail, type ConfirmSubscriptionData } from './confirm-subscription.ts';
import { escapeHtml, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, type EmailLanguage } from './language.ts';
import { referralMilestoneEmail, rewardLine, type ReferralMilestoneData } from './referral-milestone.ts';
import { signInEmail, type SignInData } from './sign-in.ts';
import { welcomeEmail, type WelcomeData } from './welcome.ts';

/**
 * The automatic emails staff may rewrite (README "Automatic emails"): for each kind, the data its
 * template takes (the same as today's template function), the variables an override may use with
 * their values from that data, the links an override must keep, the default text as Markdown
 * (written from the catalogues, so it is in the email's language), and today's template, which
 * stays the email when no override is live.
 *
 * Variables are `{{name}}`. A variable ending in `url` is a link; a block variable stands on a
 * line of its own and becomes a block of the email (the list of replies, a gift's message).
 * Where today's email picks one of two sentences by case (a new member or not, a trial with a
 * card or not, a gift for its recipient or its buyer), that sentence is a variable.
 */
export type BillingData = EmailLanguage & { brand: Brand; tierName: string };

export interface AutomaticEmailData {
  confirmation: ConfirmSubscriptionData;
  welcome: WelcomeData;
  sign_in: SignInData;
  email_change: EmailLanguage & { brand: Brand; link: string; newEmail: string };
  paid_welcome: BillingData;
  payment_failed: BillingData & { graceDays: number };
  membership_ended: BillingData;
  trial_reminder: BillingData & { trialEnd: string; amount: string; withCard: boolean };
  referral_milestone: ReferralMilestoneData;
  comment_notifications: CommentNotificationsData;
  gift_receipt: BillingData & { months: number; deliverOn: string; recipient: string | null };
  gift: BillingData & { months: number; message: string; redeemUrl: string; forBuyer: boolean };
  gift_buyer: BillingData & { months: number; message: string; redeemUrl: string };
}

export type AutomaticEmailKind = keyof AutomaticEmailData;

export const AUTOMATIC_EMAIL_KINDS: readonly AutomaticEmailKind[] = [
  'confirmation',
  'welcome',
  'sign_in',
  'email_change',
  'paid_welcome',
  'payment_failed',
  'membership_ended',
  'trial_reminder',
  'referral_milestone',
  'comment_notifications',
  'gift_receipt',
  'gift',
  'gift_buyer',
];

export function isAutomaticEmailKind(value: string): value is AutomaticEmailKind {
  return (AUTOMATIC_EMAIL_KINDS as readonly string[]).includes(value);
}

/** What staff write: a subject and a preheader (plain text with variables) and a Markdown body. */
export interface EmailTemplate {
  subject: string;
  preheader: string;
  markdown: string;
}

/** A block variable's content for one email: HTML for the HTML part, text for the text part. */
export interface BlockValue {
  html: string;
  text: string;
}

/** The values of one email's variables: text (escaped where it lands in HTML) and blocks. */
export interface VariableValues {
  text: Record<string, string>;
  blocks: Record<string, BlockValue>;
}

export interface KindSpec<K extends AutomaticEmailKind> {
  kind: K;
  name: string;
  /** When Hearth sends it. */
  when: string;
  /** The variables besides {{site.name}} and {{site.url}}, with what each holds. */
  variables: Record<string, string>;
  /** Variables that must stand as a link in the body (an override without them is refused). */
  required: readonly string[];
  /** Block variables (a line of their own). */
  blocks: readonly string[];
  defaults(tr: Translator): EmailTemplate;
  values(d: AutomaticEmailData[K], tr: Translator): VariableValues;
  /** The fixed footer under an override's body (links the member must always have), HTML and text, with variables. */
  footer(tr: Translator): { html: string; text: string };
  /** Today's template: the email when no override is live. */
  render(d: AutomaticEmailData[K]): RenderedEmail;
  /** Data for the editor's preview and test send: a sample member. */
  sample(brand: Brand, lang: string): AutomaticEmailData[K];
}

export const COMMON_VARIABLES: Record<string, string> = {
  'site.name': "The site's name.",
  'site.url': "The site's address.",
};

/** A number the defaults are written with, to find a plural phrase again in a formatted message. */
const SENTINEL = 987;

/** Markdown tags for catalogue messages: <b> is bold, <big> is bold. */
const MD_TAGS = {
  b: (c: string[]) => `**${c.join('')}**`,
  big: (c: string[]) => `**${c.join('')}**`,
  i: (c: string[]) => `*${c.join('')}*`,
};

/**
 * A catalogue message as Markdown with `{{variables}}` for its values; a plural value is written
 * as the variable of its phrase ("{{valid_for}}" for "7 days") or, when the phrase is not found
 * as such in the message, of its number.
 */
function md(
  tr: Translator,
  key: string,
  values: Record<string, string> = {},
  plurals: Record<string, { phrase: string; variable: string; number?: string }> = {},
): string {
  const all: Record<string, string | number> = { ...values };
  for (const name of Object.keys(plurals)) all[name] = SENTINEL;
  let out = tr.html(key, all, MD_TAGS);
  for (const p of Object.values(plurals)) {
    const phrase = tr.t(p.phrase, { n: SENTINEL });
    out = out.includes(phrase)
      ? out.split(phrase).join(`{{${p.variable}}}`)
      : out.split(String(SENTINEL)).join(`{{${p.number ?? p.variable}}}`);
  }
  return out.replace(/&amp;/g, '&');
}

/** The same, as plain text for a subject or preheader. */
const plain = (tr: Translator, key: string, values: Record<string, string> = {}, plurals: Parameters<typeof md>[3] = {}) =>
  md(tr, key, values, plurals).replace(/\*\*/g, '');

const V = (name: string) => `{{${name}}}`;
const site = { site: V('site.name') };
const phrase = (tr: Translator, key: 'automatic.days' | 'automatic.months' | 'automatic.friends', n: number) => tr.t(key, { n });
const noBlocks = {} as Record<string, BlockValue>;
const list = (newsletters: string[], brand: Brand) => (newsletters.length > 0 ? newsletters.join(', ') : brand.title);
const emptyFooter = () => ({ html: '', text: '' });
const muted = (href: string, label: string) => `<a href="${href}" style="color:#78716c;">${escapeHtml(label)}</a>`;
const SAMPLE_NAME = 'Alex Sample';

const confirmation: KindSpec<'confirmation'> = {
  kind: 'confirmation',
  name: 'Confirmation',
  when: 'Someone subscribes (double opt-in): the link that confirms the subscription.',
  variables: {
    'member.name': "The member's name (empty when they gave none).",
    newsletters: 'The newsletters they asked for (or the site name).',
    confirm_url: 'The confirmation link (required).',
    valid_for: 'How long the link works ("7 days").',
  },
  required: ['confirm_url'],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.confirm.subject', site),
    preheader: plain(tr, 'emails.confirm.preheader', { list: V('newsletters') }),
    markdown: [
      md(tr, 'emails.hiAnonymous'),
      md(tr, 'emails.confirm.body', { list: V('newsletters'), site: V('site.name') }),
      `[${md(tr, 'emails.confirm.button')}](${V('confirm_url')})`,
      `${md(tr, 'emails.confirm.paste')} ${V('confirm_url')}`,
      md(tr, 'emails.confirm.validity', {}, { days: { phrase: 'automatic.days', variable: 'valid_for' } }),
    ].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      'member.name': d.name ?? '',
      newsletters: list(d.newsletters, d.brand),
      confirm_url: d.confirmUrl,
      valid_for: phrase(tr, 'automatic.days', d.validDays),
    },
    blocks: noBlocks,
  }),
  footer: (tr) => ({ html: tr.html('emails.confirm.footer', { siteUrl: V('site.url') }), text: '' }),
  render: confirmSubscriptionEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    name: SAMPLE_NAME,
    newsletters: ['Weekly letter'],
    confirmUrl: `${brand.siteUrl}/confirm?token=sample`,
    validDays: 7,
  }),
};

const welcome: KindSpec<'welcome'> = {
  kind: 'welcome',
  name: 'Welcome',
  when: 'A member confirms their first subscription.',
  variables: {
    'member.name': "The member's name (empty when they gave none).",
    newsletters: 'The newsletters they subscribed to (or the site name).',
    preferences_url: 'Their preferences and unsubscribe page (also in the footer).',
  },
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.welcome.subject', site),
    preheader: plain(tr, 'emails.welcome.preheader', { list: V('newsletters') }),
    markdown: [
      `**${md(tr, 'emails.welcome.greeting')}**`,
      md(tr, 'emails.welcome.subscribed', { list: V('newsletters') }),
      md(tr, 'emails.welcome.reply'),
      `[${md(tr, 'emails.welcome.visit', site)}](${V('site.url')})`,
    ].join('\n\n'),
  }),
  values: (d) => ({
    text: { 'member.name': d.name ?? '', newsletters: list(d.newsletters, d.brand), preferences_url: d.preferencesUrl },
    blocks: noBlocks,
  }),
  footer: (tr) => ({
    html: muted(V('preferences_url'), tr.t('emails.welcome.preferences')),
    text: `${tr.t('emails.welcome.preferences')}: ${V('preferences_url')}`,
  }),
  render: welcomeEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    name: SAMPLE_NAME,
    newsletters: ['Weekly letter'],
    preferencesUrl: `${brand.siteUrl}/unsubscribe?token=sample`,
  }),
};

const signIn: KindSpec<'sign_in'> = {
  kind: 'sign_in',
  name: 'Sign-in link',
  when: 'A member asks to sign in (the magic link and its code).',
  variables: {
    signin_url: 'The sign-in link (required).',
    code: 'The six-digit code for the sign-in page.',
    intro: 'The opening sentence: "Click to sign in" or, for someone new, "Welcome! … become a free member".',
  },
  required: ['signin_url'],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.signin.subject', site),
    preheader: plain(tr, 'emails.signin.preheader', { code: V('code') }),
    markdown: [
      V('intro'),
      `[${md(tr, 'emails.signin.button')}](${V('signin_url')})`,
      md(tr, 'emails.signin.code', { code: V('code') }),
      md(tr, 'emails.signin.validity'),
    ].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      signin_url: d.link,
      code: d.code,
      intro: tr.t(d.newMember ? 'emails.signin.introNew' : 'emails.signin.intro', { site: d.brand.title }),
    },
    blocks: noBlocks,
  }),
  footer: emptyFooter,
  render: signInEmail,
  sample: (brand, lang) => ({ lang, brand, link: `${brand.siteUrl}/signin/verify?token=sample`, code: '123456', newMember: false }),
};

const emailChange: KindSpec<'email_change'> = {
  kind: 'email_change',
  name: 'Email address change',
  when: 'A member changes their address: the link, sent to the new address, that confirms it.',
  variables: { new_email: 'The new address.', confirm_url: 'The confirmation link (required).' },
  required: ['confirm_url'],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.emailChange.subject', site),
    preheader: plain(tr, 'emails.emailChange.preheader'),
    markdown: [
      md(tr, 'emails.emailChange.body', { email: V('new_email'), site: V('site.name') }),
      `[${md(tr, 'emails.emailChange.button')}](${V('confirm_url')})`,
      md(tr, 'emails.emailChange.validity'),
    ].join('\n\n'),
  }),
  values: (d) => ({ text: { new_email: d.newEmail, confirm_url: d.link }, blocks: noBlocks }),
  footer: emptyFooter,
  render: confirmEmailChangeEmail,
  sample: (brand, lang) => ({ lang, brand, link: `${brand.siteUrl}/account/email?token=sample`, newEmail: 'alex.new@example.com' }),
};

const tierVariables = {
  'tier.name': 'The name of the tier.',
  account_url: 'The member’s account page (membership and billing).',
};
const billingValues = (d: BillingData) => ({ 'tier.name': d.tierName, account_url: `${d.brand.siteUrl}/account` });

const paidWelcome: KindSpec<'paid_welcome'> = {
  kind: 'paid_welcome',
  name: 'Paid welcome',
  when: 'A member starts paying for a tier.',
  variables: { ...tierVariables, posts_url: 'The list of posts.' },
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.paidWelcome.subject', { tier: V('tier.name') }),
    preheader: plain(tr, 'emails.paidWelcome.preheader', { tier: V('tier.name') }),
    markdown: [
      `**${md(tr, 'emails.paidWelcome.thanks', site)}**`,
      md(tr, 'emails.paidWelcome.body', { tier: V('tier.name') }),
      `[${md(tr, 'emails.paidWelcome.button')}](${V('posts_url')})`,
      `${md(tr, 'emails.paidWelcome.manage')} ${V('account_url')}`,
    ].join('\n\n'),
  }),
  values: (d) => ({ text: { ...billingValues(d), posts_url: `${d.brand.siteUrl}/posts` }, blocks: noBlocks }),
  footer: emptyFooter,
  render: paidWelcomeEmail,
  sample: (brand, lang) => ({ lang, brand, tierName: 'Supporter' }),
};

const paymentFailed: KindSpec<'payment_failed'> = {
  kind: 'payment_failed',
  name: 'Payment failed',
  when: "A paying member's payment fails.",
  variables: { ...tierVariables, grace_period: 'How long they keep access while Stripe tries again ("7 days").' },
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.paymentFailed.subject'),
    preheader: plain(tr, 'emails.paymentFailed.preheader'),
    markdown: [
      md(tr, 'emails.paymentFailed.body', { tier: V('tier.name') }),
      md(tr, 'emails.paymentFailed.grace', {}, { days: { phrase: 'automatic.days', variable: 'grace_period' } }),
      `[${md(tr, 'emails.paymentFailed.button')}](${V('account_url')})`,
    ].join('\n\n'),
  }),
  values: (d, tr) => ({ text: { ...billingValues(d), grace_period: phrase(tr, 'automatic.days', d.graceDays) }, blocks: noBlocks }),
  footer: emptyFooter,
  render: paymentFailedEmail,
  sample: (brand, lang) => ({ lang, brand, tierName: 'Supporter', graceDays: 7 }),
};

const membershipEnded: KindSpec<'membership_ended'> = {
  kind: 'membership_ended',
  name: 'Membership ended',
  when: "A member's paid membership ends.",
  variables: tierVariables,
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.membershipEnded.subject', { tier: V('tier.name') }),
    preheader: plain(tr, 'emails.membershipEnded.preheader'),
    markdown: [
      md(tr, 'emails.membershipEnded.body', { tier: V('tier.name') }),
      md(tr, 'emails.membershipEnded.comeBack'),
      `[${md(tr, 'emails.membershipEnded.button')}](${V('account_url')})`,
    ].join('\n\n'),
  }),
  values: (d) => ({ text: billingValues(d), blocks: noBlocks }),
  footer: emptyFooter,
  render: membershipEndedEmail,
  sample: (brand, lang) => ({ lang, brand, tierName: 'Supporter' }),
};

const trialReminder: KindSpec<'trial_reminder'> = {
  kind: 'trial_reminder',
  name: 'Trial reminder',
  when: "Before a free trial's end (and its first charge).",
  variables: {
    ...tierVariables,
    'trial.end_date': "The trial's last day, written in the member's language.",
    'trial.amount': 'What the first charge will be.',
    'trial.outcome':
      'What happens at the end: "your card will be charged …" or, for a trial without a card, "your membership ends unless you add a card".',
  },
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.trialEnding.subject', { date: V('trial.end_date') }),
    preheader: plain(tr, 'emails.trialEnding.preheader', { date: V('trial.end_date') }),
    markdown: [
      V('trial.outcome'),
      md(tr, 'emails.trialEnding.change'),
      `[${md(tr, 'emails.trialEnding.button')}](${V('account_url')})`,
    ].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      ...billingValues(d),
      'trial.end_date': d.trialEnd,
      'trial.amount': d.amount,
      'trial.outcome': tr.t(d.withCard ? 'emails.trialEnding.charge' : 'emails.trialEnding.ends', {
        date: d.trialEnd,
        amount: d.amount,
        tier: d.tierName,
      }),
    },
    blocks: noBlocks,
  }),
  footer: emptyFooter,
  render: trialEndingEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    tierName: 'Supporter',
    trialEnd: formatDate(lang, new Date(Date.now() + 3 * 86_400_000)),
    amount: '$5.00',
    withCard: true,
  }),
};

const referralMilestone: KindSpec<'referral_milestone'> = {
  kind: 'referral_milestone',
  name: 'Referral milestone',
  when: "A member's referrals reach a milestone.",
  variables: {
    'member.name': "The member's name (empty when they gave none).",
    'referrals.count': 'How many friends joined through their link.',
    'referrals.friends': 'The same, as words ("3 friends").',
    'milestone.description': "The milestone's reward, as staff described it.",
    'milestone.reward': 'What they earned, in a sentence (a complimentary membership until a date, or "we will be in touch").',
    'milestone.next': 'The next milestone, in a sentence (empty at the last one).',
    referral_url: 'Their referral link.',
    account_url: 'Their account page (their referrals).',
  },
  required: [],
  blocks: [],
  defaults: (tr) => ({
    subject: plain(tr, 'emails.milestone.subject', { description: V('milestone.description') }),
    preheader: plain(
      tr,
      'emails.milestone.preheader',
      {},
      { count: { phrase: 'automatic.friends', variable: 'referrals.friends', number: 'referrals.count' } },
    ),
    markdown: [
      md(tr, 'emails.milestone.hello'),
      `**${md(tr, 'emails.milestone.joined', site, { count: { phrase: 'automatic.friends', variable: 'referrals.friends', number: 'referrals.count' } })}**`,
      `${md(tr, 'emails.milestone.reached', { description: V('milestone.description') })} ${V('milestone.reward')}`,
      V('milestone.next'),
      `${md(tr, 'emails.milestone.link')} ${V('referral_url')}`,
      `[${md(tr, 'emails.milestone.button')}](${V('account_url')})`,
    ].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      'member.name': d.name ?? '',
      'referrals.count': String(d.referrals),
      'referrals.friends': phrase(tr, 'automatic.friends', d.referrals),
      'milestone.description': d.description,
      'milestone.reward': rewardLine(tr, d.reward, d.timeZone ?? 'UTC'),
      'milestone.next': d.next ? tr.t('emails.milestone.next', { count: d.next.threshold, description: d.next.description }) : '',
      referral_url: d.referralUrl,
      account_url: `${d.brand.siteUrl}/account`,
    },
    blocks: noBlocks,
  }),
  footer: emptyFooter,
  render: referralMilestoneEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    name: SAMPLE_NAME,
    referrals: 3,
    description: 'a month of Supporter',
    reward: { kind: 'comp', tierName: 'Supporter', days: 30, until: new Date(Date.now() + 30 * 86_400_000) },
    referralUrl: `${brand.siteUrl}/r/SAMPLE`,
    next: { threshold: 10, description: 'a year of Supporter' },
  }),
};

const commentNotifications: KindSpec<'comment_notifications'> = {
  kind: 'comment_notifications',
  name: 'Replies and answers',
  when: "Someone replied to a member's comment, or the brand answered their question (one email gathers them).",
  variables: {
    'member.name': "The member's name (empty when they gave none).",
    notices: 'The replies and answers, each with its excerpt and link (a line of its own; required).',
    'notices.summary': 'Today\'s subject line: "Sam replied to you", "3 new replies to you on …".',
    'notices.first': 'The first reply or answer in a sentence.',
    optout_url: 'The link that stops these emails (also in the footer).',
  },
  required: ['notices'],
  blocks: ['notices'],
  defaults: (tr) => ({
    subject: V('notices.summary'),
    preheader: V('notices.first'),
    markdown: [md(tr, 'emails.hiAnonymous'), V('notices')].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      'member.name': d.name ?? '',
      'notices.summary': commentNotificationsSubject(d.notices, d.brand.title, d.lang),
      'notices.first': d.notices[0] ? noticeLine(tr, d.notices[0], d.brand.title) : '',
      optout_url: d.optOutUrl,
    },
    blocks: { notices: { html: noticesHtml(tr, d), text: noticesText(tr, d) } },
  }),
  footer: (tr) => ({
    html: `${escapeHtml(tr.t('emails.comments.footer', { site: V('site.name') }))} ${muted(V('optout_url'), tr.t('emails.comments.optOut'))}`,
    text: `--\n${tr.t('emails.comments.optOut')}: ${V('optout_url')}`,
  }),
  render: commentNotificationsEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    name: SAMPLE_NAME,
    notices: [
      {
        kind: 'reply',
        postTitle: 'A sample post',
        url: `${brand.siteUrl}/posts/sample#comment-1`,
        author: 'Sam',
        excerpt: 'Thank you for this, it made my week.',
      },
    ],
    optOutUrl: `${brand.siteUrl}/conversation/stop?token=sample`,
  }),
};

const giftVariables = {
  'tier.name': 'The tier given.',
  'gift.duration': 'How long, as words ("3 months").',
};

const giftReceipt: KindSpec<'gift_receipt'> = {
  kind: 'gift_receipt',
  name: 'Gift receipt',
  when: 'A gift is paid: to its buyer.',
  variables: {
    ...giftVariables,
    'gift.recipient': "The recipient's address (empty when the buyer hands the link over).",
    'gift.deliver_on': 'The delivery date.',
    'gift.delivery': 'What happens next, in a sentence ("We will email the gift to … on …").',
  },
  required: [],
  blocks: [],
  defaults: (tr) => {
    const months = { months: { phrase: 'automatic.months', variable: 'gift.duration' } };
    return {
      subject: plain(tr, 'emails.giftReceipt.subject', { tier: V('tier.name') }, months),
      preheader: plain(tr, 'emails.giftReceipt.preheader'),
      markdown: [md(tr, 'emails.giftReceipt.thanks', { tier: V('tier.name') }, months), V('gift.delivery')].join('\n\n'),
    };
  },
  values: (d, tr) => {
    const values = { months: d.months, tier: d.tierName, recipient: d.recipient, date: d.deliverOn };
    return {
      text: {
        'tier.name': d.tierName,
        'gift.duration': phrase(tr, 'automatic.months', d.months),
        'gift.recipient': d.recipient ?? '',
        'gift.deliver_on': d.deliverOn,
        'gift.delivery': tr.t(d.recipient ? 'emails.giftReceipt.toRecipient' : 'emails.giftReceipt.toBuyer', values),
      },
      blocks: noBlocks,
    };
  },
  footer: emptyFooter,
  render: giftReceiptEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    tierName: 'Supporter',
    months: 3,
    deliverOn: formatDate(lang, new Date()),
    recipient: 'friend@example.com',
  }),
};

const gift: KindSpec<'gift'> = {
  kind: 'gift',
  name: 'Gift',
  when: "On a gift's delivery date: the redeem link, to its recipient (a gift without a recipient's address is the Gift to hand over).",
  variables: {
    ...giftVariables,
    'gift.intro': 'The opening sentence: "Someone gave you …".',
    'gift.message': "The buyer's message, quoted (a line of its own; nothing when there is none).",
    redeem_url: 'The redeem link (required).',
  },
  required: ['redeem_url'],
  blocks: ['gift.message'],
  defaults: (tr) => ({
    subject: plain(
      tr,
      'emails.gift.subject',
      { tier: V('tier.name') },
      { months: { phrase: 'automatic.months', variable: 'gift.duration' } },
    ),
    preheader: plain(tr, 'emails.gift.preheader'),
    markdown: [
      V('gift.intro'),
      V('gift.message'),
      `[${md(tr, 'emails.gift.button')}](${V('redeem_url')})`,
      md(tr, 'emails.gift.once'),
    ].join('\n\n'),
  }),
  values: (d, tr) => ({
    text: {
      'tier.name': d.tierName,
      'gift.duration': phrase(tr, 'automatic.months', d.months),
      'gift.intro': tr.t(d.forBuyer ? 'emails.gift.introBuyer' : 'emails.gift.intro', {
        months: d.months,
        tier: d.tierName,
        site: d.brand.title,
      }),
      redeem_url: d.redeemUrl,
    },
    blocks: {
      'gift.message': d.message
        ? {
            html: `<blockquote style="border-left:3px solid #d6d3d1;margin:16px 0;padding-left:12px;">${escapeHtml(d.message)}</blockquote>`,
            text: `"${d.message}"`,
          }
        : { html: '', text: '' },
    },
  }),
  footer: emptyFooter,
  render: giftEmail,
  sample: (brand, lang) => ({
    lang,
    brand,
    tierName: 'Supporter',
    months: 3,
    message: 'Happy birthday!',
    redeemUrl: `${brand.siteUrl}/gift/redeem?token=sample`,
    forBuyer: false,
  }),
};

/**
 * The gift's link to its buyer, when the gift has no recipient's address: an email of its own, so
 * that staff's text for the recipient ("A gift for you…") never reaches the buyer.
 */
const giftBuyer: KindSpec<'gift_buyer'> = {
  kind: 'gift_buyer',
  name: 'Gift to hand over',
  when: "On a gift's delivery date, when it has no recipient's address: the redeem link, to its buyer, to hand over.",
  variables: {
    ...giftVariables,
    'gift.intro': 'The opening sentence: "Here is the gift you bought …".',
    'gift.message': "The buyer's message, quoted (a line of its own; nothing when there is none).",
    redeem_url: 'The redeem link (required).',
  },
  required: ['redeem_url'],
  blocks: ['gift.message'],
  // The recipient's text but for the subject: the buyer hands the same link over.
  defaults: (tr) => ({ ...gift.defaults(tr), subject: plain(tr, 'emails.gift.subjectBuyer', { tier: V('tier.name') }) }),
  values: (d, tr) => gift.values({ ...d, forBuyer: true }, tr),
  footer: emptyFooter,
  render: (d) => giftEmail({ ...d, forBuyer: true }),
  // The recipient's sample: `values` and `render` above make it the buyer's.
  sample: (brand, lang) => gift.sample(brand, lang),
};

export const KINDS: { [K in AutomaticEmailKind]: KindSpec<K> } = {
  confirmation,
  welcome,
  sign_in: signIn,
  email_change: emailChange,
  paid_welcome: paidWelcome,
  payment_failed: paymentFailed,
  membership_ended: membershipEnded,
  trial_reminder: trialReminder,
  referral_milestone: referralMilestone,
  comment_notifications: commentNotifications,
  gift_receipt: giftReceipt,
  gift,
  gift_buyer: giftBuyer,
};

/** Every variable of a kind, with what it holds (the common ones first). */
export function variablesOf(kind: AutomaticEmailKind): Record<string, string> {
  return { ...COMMON_VARIABLES, ...KINDS[kind].variables };
}

/** The default text of a kind in a language, as Markdown with variables (what the editor starts from). */
export function defaultTemplate(kind: AutomaticEmailKind, lang: string): EmailTemplate {
  return KINDS[kind].defaults(emailTranslator(lang));
}
