import pg from 'pg';
import { ConfigError, type Config } from './lib/config.ts';
import { readOrCreateAppSecret } from './lib/data-dir.ts';
import { checkConnection, createDatabase, type DatabaseHandle } from './lib/db.ts';
import { startEmbeddedPostgres, withDatabase, type EmbeddedPostgres } from './lib/embedded-postgres.ts';
import { createOutboxMailer } from './lib/mailer/outbox.ts';
import { createResendMailer } from './lib/mailer/resend.ts';
import { createSmtpMailer } from './lib/mailer/smtp.ts';
import type { Runtime } from './lib/runtime.ts';
import { siteKeys } from './lib/site-keys.ts';
import { createStripe } from './lib/stripe.ts';
import { log } from './lib/log.ts';
import { migrateToLatest } from '../db/migrate.ts';

/**
 * Start-up shared by every command: find or start the database, migrate it, and build the
 * runtime (config with its secret, db, mailer). Nothing here listens or runs jobs.
 */
export interface Booted {
  runtime: Runtime;
  database: DatabaseHandle;
  embedded: EmbeddedPostgres | undefined;
  close(): Promise<void>;
}

async function ensureDatabaseExists(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
}

export interface BootOptions {
  poolSize?: number;
  migrate?: boolean;
  /** Told of each thing to stop as soon as it has started, so a signal mid-start stops it too. */
  onStarted?: (stop: () => Promise<void>) => void;
}

export async function boot(config: Config, options: BootOptions = {}): Promise<Booted> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (url === undefined) {
    const started = Date.now();
    embedded = await startEmbeddedPostgres(config.dataDir, { port: config.embeddedPgPort });
    const started_ = embedded;
    options.onStarted?.(() => started_.stop());
    url = withDatabase(embedded.url, 'hearth');
    await ensureDatabaseExists(embedded.url, 'hearth');
    log.info('embedded database started', { port: embedded.port, ms: Date.now() - started });
  } else {
    const problem = await checkConnection(url);
    if (problem) throw new ConfigError('DATABASE_URL', problem);
  }
  const appSecret = config.appSecret ?? readOrCreateAppSecret(config.dataDir);
  // Web requests, the worker's job slots (4, and 9 for bulk work) and its two LISTEN connections.
  const database = createDatabase(url, { max: options.poolSize ?? 24 });
  options.onStarted?.(() => database.close());
  try {
    if (options.migrate !== false) {
      const applied = await migrateToLatest(database.db, database.pool);
      if (applied.length > 0) log.info('migrations applied', { migrations: applied });
    }
  } catch (err) {
    await database.close();
    await embedded?.stop();
    throw err;
  }
  // Every email (sends, automatic and transactional mail, tests from the checklist) goes through this one mailer.
  const mailer =
    config.mailProvider === 'smtp' && config.smtp
      ? createSmtpMailer(database.db, { url: config.smtp.url, from: config.mailFrom, maxConnections: config.smtp.maxConnections })
      : config.mailProvider === 'resend' && config.resend
        ? createResendMailer({ apiKey: config.resend.apiKey, baseUrl: config.resend.baseUrl, from: config.mailFrom })
        : createOutboxMailer(database.db, { from: config.mailFrom });
  const runtime: Runtime = {
    config: { ...config, appSecret },
    keys: siteKeys({ appSecret, siteUrl: config.siteUrl, mailFrom: config.mailFrom }),
    db: database.db,
    mailer,
    stripe: createStripe(config.stripe),
    pool: database.pool,
  };
  return {
    runtime,
    database,
    embedded,
    async close() {
      await mailer.close?.();
      await database.close();
      await embedded?.stop();
    },
  };
}
