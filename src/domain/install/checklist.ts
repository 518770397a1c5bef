import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { Config } from '../../lib/config.ts';
import type { DnsLookup } from '../../lib/dns.ts';
import { HANDLED_EVENTS as STRIPE_EVENTS } from '../billing/billing.ts';
import { HANDLED_RESEND_EVENTS } from '../sending/webhooks.ts';
import { checkSenderDomain, type RecordCheck } from './dns-records.ts';
import { latestTestEmail } from './test-email.ts';
import { getSiteSettings } from '../site/settings.ts';

/**
 * What a fresh install still needs before it is ready for readers, each line with its state and
 * the exact fix. Read from the database, the configuration and the DNS (bounded, cached: see
 * dns-records.ts); nothing here writes.
 */
export type ItemState = 'done' | 'todo' | 'unknown';

export interface ChecklistItem {
  id:
    | 'newsletter'
    | 'sender'
    | 'spf'
    | 'dkim'
    | 'dmarc'
    | 'resend'
    | 'resend_webhook'
    | 'stripe'
    | 'stripe_webhook'
    | 'site_url'
    | 'test_email'
    | 'postal_address';
  title: string;
  state: ItemState;
  /** What is there now, or what to do. */
  detail: string;
  /** A DNS record to add (shown while the line is not done). */
  record?: { type: string; name: string; value: string };
  /** A webhook endpoint to create at the provider, and the events to enable on it. */
  webhook?: { url: string; events: readonly string[] };
  /** A link to where the fix is made in the admin. */
  link?: { href: string; label: string };
}

export interface Checklist {
  items: ChecklistItem[];
  /** Every line done. */
  ready: boolean;
}

export type InstallConfig = Pick<Config, 'siteUrl' | 'mailFrom' | 'resend' | 'stripe'> &
  Partial<Pick<Config, 'mailProvider' | 'smtp' | 'inboundMail'>>;

/** The address part of MAIL_FROM ("Brand <news@example.com>" → news@example.com). */
export function senderAddress(mailFrom: string): string {
  return (/<([^>]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom).trim().toLowerCase();
}

/** A domain mail can be sent from on the internet (not localhost, not a reserved test name). */
export function isPublicDomain(domain: string): boolean {
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) && !/(^|\.)(localhost|local|test|invalid|example|internal)$/.test(domain);
}

async function countNewsletters(db: Kysely<Database>): Promise<number> {
  // Open ones only: with every newsletter archived, readers cannot subscribe to anything.
  const row = await db
    .selectFrom('newsletters')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('archived_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const fromRecord = (check: RecordCheck): ItemState => (check.state === 'found' ? 'done' : check.state === 'missing' ? 'todo' : 'unknown');

export async function installChecklist(
  db: Kysely<Database>,
  config: InstallConfig,
  dns: DnsLookup,
  options: { fresh?: boolean } = {},
): Promise<Checklist> {
  const address = senderAddress(config.mailFrom);
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const publicDomain = isPublicDomain(domain);
  const [newsletters, records, test, site] = await Promise.all([
    countNewsletters(db),
    publicDomain ? checkSenderDomain(dns, domain, options) : Promise.resolve(undefined),
    latestTestEmail(db),
    getSiteSettings(db),
  ]);
  const items: ChecklistItem[] = [];
  items.push({
    id: 'newsletter',
    title: 'A first newsletter',
    state: newsletters > 0 ? 'done' : 'todo',
    detail:
      newsletters > 0
        ? `${newsletters} newsletter${newsletters === 1 ? '' : 's'}.`
        : 'Readers subscribe to a newsletter: create one in Admin → Newsletters (or `npm run hearth -- newsletter:create --slug S --name N --default`).',
  });
  items.push({
    id: 'sender',
    title: 'A sender address on your own domain',
    state: publicDomain ? 'done' : 'todo',
    detail: publicDomain
      ? `Email is sent from ${address} (MAIL_FROM).`
      : `Email is sent from ${address}: set MAIL_FROM to an address on your domain, e.g. "Field Notes <letters@news.example.com>", and verify that domain in Resend.`,
  });
  if (records) {
    const line = (id: 'spf' | 'dkim' | 'dmarc', title: string, check: RecordCheck): ChecklistItem => ({
      id,
      title,
      state: fromRecord(check),
      detail: check.state === 'unknown' ? `Could not check: ${check.detail}.` : check.detail,
      ...(check.state === 'found' ? {} : { record: check.record }),
    });
    items.push(line('spf', `SPF for ${domain}`, records.spf));
    items.push(line('dkim', `DKIM for ${domain} (selector resend)`, records.dkim));
    items.push(line('dmarc', `DMARC for ${domain}`, records.dmarc));
  }
  if (config.mailProvider === 'smtp' && config.smtp) {
    // The same two items, for an SMTP relay (README, "Any mail provider: SMTP"); the ids stay.
    const inbound = config.inboundMail ?? { sesTopicArns: undefined, postmarkToken: undefined, mailgunSigningKey: undefined };
    items.push({
      id: 'resend',
      title: 'Mail provider (SMTP relay)',
      state: 'done',
      detail: `MAIL_PROVIDER=smtp: email goes out through ${new URL(config.smtp.url).hostname} (SMTP_URL).`,
    });
    items.push({
      id: 'resend_webhook',
      title: 'Bounces and complaints from the relay',
      state: inbound.sesTopicArns || inbound.postmarkToken || inbound.mailgunSigningKey ? 'done' : 'todo',
      detail:
        inbound.sesTopicArns || inbound.postmarkToken || inbound.mailgunSigningKey
          ? 'A relay webhook is configured (SES_SNS_TOPIC_ARN, POSTMARK_WEBHOOK_TOKEN or MAILGUN_WEBHOOK_SIGNING_KEY).'
          : `Point your relay's bounce and complaint events at ${config.siteUrl}/webhooks/ses, /webhooks/postmark or /webhooks/mailgun and set its setting (README, "Any mail provider: SMTP"); until then a bounced address is not suppressed.`,
    });
  } else {
    items.push({
      id: 'resend',
      title: 'Resend API key',
      state: config.resend ? 'done' : 'todo',
      detail: config.resend
        ? 'RESEND_API_KEY is set: email goes out through Resend.'
        : 'Set RESEND_API_KEY (Resend → API Keys). Until then email stays in the local outbox (Admin → Outbox).',
    });
    items.push({
      id: 'resend_webhook',
      title: 'Resend webhook (delivery, bounces, complaints)',
      state: config.resend?.webhookSecret ? 'done' : 'todo',
      detail: config.resend?.webhookSecret
        ? 'RESEND_WEBHOOK_SECRET is set.'
        : 'In Resend → Webhooks, add this endpoint with these events, and put its signing secret in RESEND_WEBHOOK_SECRET.',
      webhook: { url: `${config.siteUrl}/webhooks/resend`, events: HANDLED_RESEND_EVENTS },
    });
  }
  items.push({
    id: 'stripe',
    title: 'Stripe secret key (paid tiers)',
    state: config.stripe ? 'done' : 'todo',
    detail: config.stripe
      ? 'STRIPE_SECRET_KEY is set: paid tiers open Stripe Checkout.'
      : 'Set STRIPE_SECRET_KEY (Stripe → Developers → API keys). Until then paid tiers say payments are not configured.',
  });
  items.push({
    id: 'stripe_webhook',
    title: 'Stripe webhook (subscriptions and payments)',
    state: config.stripe?.webhookSecret ? 'done' : 'todo',
    detail: config.stripe?.webhookSecret
      ? 'STRIPE_WEBHOOK_SECRET is set.'
      : 'In Stripe → Developers → Webhooks, add this endpoint with these events, and put its signing secret in STRIPE_WEBHOOK_SECRET.',
    webhook: { url: `${config.siteUrl}/webhooks/stripe`, events: STRIPE_EVENTS },
  });
  const https = new URL(config.siteUrl).protocol === 'https:';
  items.push({
    id: 'site_url',
    title: 'SITE_URL on https',
    state: https ? 'done' : 'todo',
    detail: https
      ? `Readers reach the site at ${config.siteUrl}.`
      : `SITE_URL is ${config.siteUrl}: set it to the https:// address readers use (links in emails, secure cookies and origin checks depend on it).`,
  });
  items.push({
    id: 'postal_address',
    title: 'Your postal address in every newsletter',
    state: site.postalAddress ? 'done' : 'todo',
    detail: site.postalAddress
      ? 'Printed in the footer of every email.'
      : 'Anti-spam laws (CAN-SPAM in the US) ask for a postal address in every bulk email: set it in Admin → Design.',
  });
  items.push({
    id: 'test_email',
    title: 'A test email to yourself',
    state: test?.sent_at ? 'done' : 'todo',
    detail: test?.sent_at
      ? `Sent to ${test.to_address} at ${test.sent_at.toISOString().slice(0, 16).replace('T', ' ')} UTC.`
      : test?.error
        ? `The last one to ${test.to_address} was refused: ${test.error}`
        : test
          ? `Queued for ${test.to_address}; waiting for the job worker.`
          : 'Send one to your own address and look at it in your inbox.',
  });
  return { items, ready: items.every((i) => i.state === 'done') };
}
