import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import type { Config } from './config.ts';
import type { Mailer } from './mailer/port.ts';
import type { SiteKeys } from './site-keys.ts';
import type Stripe from 'stripe';
import type pg from 'pg';

/**
 * What a request needs from the process: configuration, signing keys, the database and the mailer.
 * The CLI builds it once at start (src/boot.ts) and registers it here before the web handler
 * is imported; the built server bundle holds its own copy of this module, so the registry
 * lives on globalThis under a well-known symbol.
 */
export interface Runtime {
  config: Config & { appSecret: string };
  /** The app secret and the site's address, for signing tokens and building links. */
  keys: SiteKeys;
  db: Kysely<Database>;
  mailer: Mailer;
  /** Undefined when payments are not configured (no STRIPE_SECRET_KEY). */
  stripe: Stripe | undefined;
  /** The pool behind db, for what needs a raw client (COPY: the site archive's download). */
  pool?: pg.Pool;
}

const KEY = Symbol.for('hearth.runtime');
type Holder = { [KEY]?: Runtime };

export function registerRuntime(runtime: Runtime): void {
  (globalThis as Holder)[KEY] = runtime;
}

export function getRuntime(): Runtime {
  const runtime = (globalThis as Holder)[KEY];
  if (!runtime) {
    throw new Error('Hearth runtime not started: run the site with `npm start` (or `npm run hearth -- serve`)');
  }
  return runtime;
}
