import { isIP } from 'node:net';
import { z } from 'zod';
import { parseTrustProxy, TrustProxyError, type TrustProxy } from './client-address.ts';
import { parseSmtpUrl, SmtpUrlError } from './mailer/smtp.ts';

/**
 * Configuration read once at start from the environment (DESIGN.md's table).
 * A bad value becomes one ConfigError naming the variable; the CLI prints its message
 * and exits non-zero, never a stack trace.
 */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

function httpUrl(what: string) {
  return optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be a URL (${what}), got "${v}"` });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL (${what}), got "${v}"` });
    }
  });
}

const emailAddress = /^[^\s@<>]+@[^\s@<>]+$/;

/** `1.1.1.1`, `127.0.0.1:5353`, `::1` or `[::1]:5353`: what node:dns's Resolver.setServers takes. */
function dnsServer(entry: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : isIP(entry) === 6 ? [entry, undefined] : entry.split(':');
  if (!host || isIP(host) === 0 || (bracketed && isIP(host) !== 6)) return false;
  return port === undefined || (/^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) <= 65535);
}

const schema = z.object({
  DATABASE_URL: optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a postgres:// URL, e.g. postgres://user:pass@host:5432/db' });
      return;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      ctx.addIssue({ code: 'custom', message: `must start with postgres:// or postgresql://, got "${url.protocol}"` });
    } else if (!url.hostname && !url.searchParams.get('host')) {
      ctx.addIssue({ code: 'custom', message: 'must name a host, e.g. postgres://user:pass@host:5432/db' });
    }
  }),
  HOST: optionalString,
  PORT: optionalString.transform((v, ctx) => {
    if (v === undefined) return 4321;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `must be a port number from 0 to 65535, got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  SITE_URL: httpUrl('the public address of the site, e.g. https://news.example.com'),
  APP_SECRET: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && v.length < 32) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 32 characters (try: openssl rand -hex 32)' });
    }
  }),
  MAIL_FROM: optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    const address = /<([^>]+)>\s*$/.exec(v)?.[1] ?? v;
    if (!emailAddress.test(address)) {
      ctx.addIssue({ code: 'custom', message: `must be an address like "Brand <news@example.com>", got "${v}"` });
    }
  }),
  RESEND_API_KEY: optionalString,
  RESEND_BASE_URL: httpUrl('a Resend-compatible API'),
  RESEND_WEBHOOK_SECRET: optionalString,
  MAIL_PROVIDER: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && v !== 'resend' && v !== 'smtp') ctx.addIssue({ code: 'custom', message: `must be resend or smtp, got "${v}"` });
  }),
  SMTP_URL: optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      parseSmtpUrl(v);
    } catch (err) {
      if (!(err instanceof SmtpUrlError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  }),
  SMTP_MAX_CONNECTIONS: optionalString.transform((v, ctx) => {
    if (v === undefined) return 5;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 50) {
      ctx.addIssue({ code: 'custom', message: `must be a number of connections from 1 to 50, got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  SES_SNS_TOPIC_ARN: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const arns = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = arns.find((a) => !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(a));
    if (bad !== undefined || arns.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be SNS topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC), comma-separated, got "${bad ?? v}"`,
      });
      return z.NEVER;
    }
    return arns;
  }),
  POSTMARK_WEBHOOK_TOKEN: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && v.length < 16)
      ctx.addIssue({ code: 'custom', message: 'must be at least 16 characters (try: openssl rand -hex 16)' });
  }),
  MAILGUN_WEBHOOK_SIGNING_KEY: optionalString,
  WEBHOOKS_ALLOW_PRIVATE: optionalString.transform((v, ctx) => {
    if (v === undefined || v === '0' || v === '') return false;
    if (v === '1') return true;
    ctx.addIssue({ code: 'custom', message: `must be 1 or 0, got "${v}"` });
    return z.NEVER;
  }),
  FEDERATION_ALLOW_PRIVATE: optionalString.transform((v, ctx) => {
    if (v === undefined || v === '0' || v === '') return false;
    if (v === '1') return true;
    ctx.addIssue({ code: 'custom', message: `must be 1 or 0, got "${v}"` });
    return z.NEVER;
  }),
  SEND_RATE_LIMIT: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 10_000) {
      ctx.addIssue({ code: 'custom', message: `must be a positive number of requests per second, got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  STRIPE_API_BASE: httpUrl('a Stripe-compatible API, e.g. http://127.0.0.1:12111'),
  DNS_SERVERS: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const servers = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = servers.find((s) => !dnsServer(s));
    if (bad !== undefined || servers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a comma-separated list of IP addresses, each with an optional :port, got "${bad ?? v}"`,
      });
      return z.NEVER;
    }
    return servers;
  }),
  EMBEDDED_PG_PORT: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `must be a port number from 1 to 65535, got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  DATA_DIR: optionalString.transform((v) => v ?? '.data'),
  UPLOADS_DIR: optionalString,
  BACKUP_DIR: optionalString,
  BACKUP_KEEP: optionalString.transform((v, ctx) => {
    if (v === undefined) return 7;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 3650) {
      ctx.addIssue({ code: 'custom', message: `must be a number of archives from 1 to 3650, got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  TRUST_PROXY: optionalString.transform((v, ctx): TrustProxy => {
    try {
      return parseTrustProxy(v);
    } catch (err) {
      if (!(err instanceof TrustProxyError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
      return z.NEVER;
    }
  }),
  LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error', 'silent'])
    .optional()
    .catch(() => 'info' as const)
    .transform((v) => v ?? 'info'),
});

export interface Config {
  /** Unset means the embedded default: a PostgreSQL under DATA_DIR/postgres. */
  databaseUrl: string | undefined;
  host: string;
  port: number;
  /** Where readers reach the site; derived from PORT when unset. */
  siteUrl: string;
  /** Unset only before the embedded default has generated one (see data-dir.ts). */
  appSecret: string | undefined;
  mailFrom: string;
  resend: { apiKey: string; baseUrl: string | undefined; webhookSecret: string | undefined } | undefined;
  /** Which adapter sends every email (lib/mailer): MAIL_PROVIDER, or the one whose settings are given; the outbox without any. */
  mailProvider: 'resend' | 'smtp' | 'outbox';
  smtp: { url: string; maxConnections: number } | undefined;
  /** Bounces and complaints from SMTP relays (POST /webhooks/ses, /postmark, /mailgun); each unset turns its endpoint off. */
  inboundMail: { sesTopicArns: string[] | undefined; postmarkToken: string | undefined; mailgunSigningKey: string | undefined };
  /** Resend: API requests per second (each up to 100 emails); SMTP: messages per second. */
  sendRateLimit: number;
  stripe: { secretKey: string; webhookSecret: string | undefined; apiBase: string | undefined } | undefined;
  /** Resolvers for the install checklist's DNS checks (host or host:port); unset: the system's. */
  dnsServers: string[] | undefined;
  /** The embedded database's port; unset: a free port at each start. */
  embeddedPgPort: number | undefined;
  dataDir: string;
  /** Post images; DATA_DIR/uploads unless set (share it between web machines). */
  uploadsDir: string;
  /** The nightly site archive (domain/backup/nightly.ts): its folder (unset: no nightly backup) and how many to keep. */
  backup: { dir: string; keep: number } | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Which X-Forwarded-For / Forwarded entries to believe (lib/client-address.ts); off by default. */
  trustProxy: TrustProxy;
  /** FEDERATION_ALLOW_PRIVATE=1: fediverse peers on loopback/private addresses, over http (tests only). */
  federationAllowPrivate: boolean;
  /** WEBHOOKS_ALLOW_PRIVATE=1: webhook endpoints on loopback/private addresses allowed (tests, a LAN). */
  webhooksAllowPrivate: boolean;
}

/** Reads and validates the environment; throws ConfigError for the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  if (e.DATABASE_URL !== undefined && e.APP_SECRET === undefined) {
    throw new ConfigError('APP_SECRET', 'is required when DATABASE_URL is set (at least 32 characters; try: openssl rand -hex 32)');
  }
  if (e.RESEND_BASE_URL !== undefined && e.RESEND_API_KEY === undefined) {
    throw new ConfigError('RESEND_API_KEY', 'is required when RESEND_BASE_URL is set');
  }
  if (e.MAIL_PROVIDER === 'smtp' && e.SMTP_URL === undefined) {
    throw new ConfigError('SMTP_URL', 'is required when MAIL_PROVIDER=smtp (e.g. smtp://user:pass@smtp.example.com:587)');
  }
  if (e.MAIL_PROVIDER === 'resend' && e.RESEND_API_KEY === undefined) {
    throw new ConfigError('RESEND_API_KEY', 'is required when MAIL_PROVIDER=resend');
  }
  const mailProvider = (e.MAIL_PROVIDER as 'resend' | 'smtp' | undefined) ?? (e.RESEND_API_KEY ? 'resend' : e.SMTP_URL ? 'smtp' : 'outbox');
  if ((e.STRIPE_WEBHOOK_SECRET !== undefined || e.STRIPE_API_BASE !== undefined) && e.STRIPE_SECRET_KEY === undefined) {
    throw new ConfigError('STRIPE_SECRET_KEY', 'is required when STRIPE_WEBHOOK_SECRET or STRIPE_API_BASE is set');
  }
  if (e.FEDERATION_ALLOW_PRIVATE && env.NODE_ENV === 'production' && env.HEARTH_TESTING !== '1') {
    throw new ConfigError(
      'FEDERATION_ALLOW_PRIVATE',
      'is for tests only and is refused with NODE_ENV=production (it lets the fediverse reach loopback and private addresses)',
    );
  }
  const siteUrl = (e.SITE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return {
    databaseUrl: e.DATABASE_URL,
    // A local trial (the embedded default) listens on loopback only: until the owner exists,
    // whoever reaches /admin first creates it. With DATABASE_URL, a deployment: all interfaces.
    host: e.HOST ?? (e.DATABASE_URL === undefined ? '127.0.0.1' : '0.0.0.0'),
    port: e.PORT,
    siteUrl,
    appSecret: e.APP_SECRET,
    // No display name by default: each email is sent under the site's name (domain/newsletters/sender.ts).
    mailFrom: e.MAIL_FROM ?? `hearth@${new URL(siteUrl).hostname}`,
    resend: e.RESEND_API_KEY ? { apiKey: e.RESEND_API_KEY, baseUrl: e.RESEND_BASE_URL, webhookSecret: e.RESEND_WEBHOOK_SECRET } : undefined,
    mailProvider,
    smtp: e.SMTP_URL ? { url: e.SMTP_URL, maxConnections: e.SMTP_MAX_CONNECTIONS } : undefined,
    inboundMail: {
      sesTopicArns: e.SES_SNS_TOPIC_ARN,
      postmarkToken: e.POSTMARK_WEBHOOK_TOKEN,
      mailgunSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY,
    },
    // Resend's default plan allows 2 requests a second; an SMTP relay is counted per message
    // (SES starts accounts at 14 a second, most relays allow more).
    sendRateLimit: e.SEND_RATE_LIMIT ?? (mailProvider === 'smtp' ? 10 : 2),
    stripe: e.STRIPE_SECRET_KEY
      ? { secretKey: e.STRIPE_SECRET_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET, apiBase: e.STRIPE_API_BASE }
      : undefined,
    dnsServers: e.DNS_SERVERS,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    dataDir: e.DATA_DIR,
    uploadsDir: e.UPLOADS_DIR ?? `${e.DATA_DIR.replace(/\/+$/, '')}/uploads`,
    backup: e.BACKUP_DIR === undefined ? undefined : { dir: e.BACKUP_DIR, keep: e.BACKUP_KEEP },
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    webhooksAllowPrivate: e.WEBHOOKS_ALLOW_PRIVATE,
    federationAllowPrivate: e.FEDERATION_ALLOW_PRIVATE,
  };
}
