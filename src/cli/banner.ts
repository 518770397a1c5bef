import { resolve } from 'node:path';
import type { Config } from '../lib/config.ts';

/**
 * The start-up banner `hearth serve` prints once, in plain text, when the site is up: where the
 * site and the admin are (SITE_URL's host, the one every email links to), where email goes, and
 * where the data lives. A pure function of what the start found, so its wording is tested
 * without a server (test/unit/banner.test.ts) and its printing through the CLI (test/cli).
 * It names no secret: a database URL shows only its host and name, an SMTP relay only its host.
 */
export interface BannerInput {
  config: Pick<Config, 'siteUrl' | 'host' | 'port' | 'mailProvider' | 'smtp' | 'databaseUrl' | 'dataDir' | 'uploadsDir'>;
  /** The address the server listens on (HOST:PORT as bound: a PORT of 0 becomes the real port). */
  listening: string;
  /** False on a new install: the first visit to /admin creates the owner account. */
  hasStaff: boolean;
  worker: boolean;
}

/** `postgres://user:pass@db.internal:5432/hearth` → `db.internal:5432/hearth` (no credentials). */
function databaseWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

function mailLine(config: BannerInput['config']): string {
  switch (config.mailProvider) {
    case 'resend':
      return 'sent through Resend (RESEND_API_KEY)';
    case 'smtp': {
      let host = 'the SMTP relay';
      try {
        host = `the SMTP relay ${new URL(config.smtp?.url ?? '').host}`;
      } catch {
        // host stays generic
      }
      return `sent through ${host} (SMTP_URL)`;
    }
    case 'outbox':
      return `no mail provider set: every email stays in the local outbox, read it at ${config.siteUrl}/admin/outbox (nothing leaves this machine)`;
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function startupBanner(input: BannerInput): string {
  const { config } = input;
  const dataDir = resolve(config.dataDir);
  const lines = [
    '',
    `Hearth is running at ${config.siteUrl}`,
    '',
    `  Site      ${config.siteUrl}`,
    `  Admin     ${config.siteUrl}/admin${input.hasStaff ? '' : '  (the first visit creates the owner account)'}`,
    `  Email     ${mailLine(config)}`,
    config.databaseUrl === undefined
      ? `  Data      ${dataDir}  (embedded PostgreSQL, uploads, the app secret)`
      : `  Data      PostgreSQL at ${databaseWhere(config.databaseUrl)}; uploads in ${resolve(config.uploadsDir)}`,
    `  Worker    ${input.worker ? 'running in this process' : 'not in this process (--no-worker): run `npm run hearth -- worker`'}`,
  ];
  // Behind a proxy SITE_URL is public and the server listens elsewhere: say where, once. A local
  // trial (localhost and 127.0.0.1 on the same port) shows one host only, SITE_URL's.
  const site = new URL(config.siteUrl);
  const bound = new URL(`http://${input.listening}`);
  if (!LOOPBACK.has(site.hostname) || site.port !== bound.port)
    lines.push(`  Listening ${input.listening} (SITE_URL is the public address)`);
  lines.push('', 'Ctrl-C stops it.', '');
  return lines.join('\n');
}
