import { parseArgs, type ParseArgsConfig } from 'node:util';
import { boot, type Booted } from '../boot.ts';
import { ConfigError, loadConfig, type Config } from '../lib/config.ts';
import { DomainError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { registerRuntime } from '../lib/runtime.ts';
import type { QueueRunner } from '../lib/queue.ts';

/**
 * The operator CLI: `npm run hearth -- <command>`. Usage errors exit 2, failures exit 1 with
 * one line on stderr; `serve` and `worker` run until SIGINT/SIGTERM and then stop cleanly.
 */
const USAGE = `Usage: npm run hearth -- <command> [options]

Commands:
  serve [--no-worker]          serve the site on HOST:PORT (builds first if needed); runs the
                               job worker in the same process unless --no-worker
  worker                       run only the job worker
  migrate                      apply database migrations
  staff:create --email E --password P --role owner|admin|editor|moderator [--name N]
                               create a staff user
  token:create --email E [--name N]
                               print a new staff API token for that staff user
  newsletter:create --slug S --name N [--default] [--description D]
               [--sender-name N] [--sender-email E] [--reply-to E]
                               create a newsletter (a site's first becomes the default)
  newsletter:list [--archived] list newsletters (slug, name, default, archived)
  newsletter:archive --slug S  archive a newsletter (members and sends stay; no new subscribers)
  seed --demo [--members N]    add the demo brand, posts and N members (default 300)
  import FILE.csv [--newsletter SLUG] [--format auto|generic|mailchimp|substack|ghost|beehiiv|kit|listmonk|hearth]
               [--confirmed --attestation TEXT | --send-confirmation] [--preview]
               [--map "COLUMN=field"]... [--plan "PLAN=tier[:paid|comp|gift]"]... [--confirm-free]
               [--encoding utf-8|windows-1252]
                               import members from a CSV (the same code as the admin's import);
                               --preview says what would change and writes nothing
  import:posts FILE.json|FILE.zip [--format ghost|substack]
                               import posts from a Ghost JSON export (or its zip with
                               content/images) or a Substack export archive; matched by slug,
                               so importing again updates; never sends email
  stripe:sync                  adopt the Stripe account's existing subscriptions on the tiers'
                               prices: link them to members (by customer id, then email) and
                               report those left unmatched; reads Stripe, changes nothing there
  export members [--status S] [--newsletter SLUG] [--tier SLUG] [--label L] [--platform P] [--query Q]
                               write members as CSV to standard output
  export site FILE.tar.gz      write the whole site (every table but secrets, and the uploads)
                               to one archive: the backup of the embedded default
  import site FILE.tar.gz [--force]
                               restore a site archive into this install, all or nothing;
                               refuses a site that has content unless --force
  db:url                       print the connection URL of the database in use (DATABASE_URL,
                               or the embedded database of a running Hearth)
  psql [PSQL ARGS…]            open that database with psql (starts the embedded database for
                               the session when Hearth is not running)

Options:
  -h, --help                   show this help

Configuration comes from the environment; see README.md.`;

class UsageError extends Error {}

/**
 * The site archive commands reach a running embedded database (a Hearth serving it) instead of
 * starting a second server on the same folder; otherwise they start it for the command.
 */
async function siteArchiveConfig(config: Config): Promise<Config> {
  if (config.databaseUrl) return config;
  const { runningEmbeddedUrl } = await import('../lib/embedded-postgres.ts');
  const running = runningEmbeddedUrl(config.dataDir);
  return running ? { ...config, databaseUrl: running } : config;
}

/** `--plan "Gold=premium:comp"` pairs: source plan → tier slug and (optionally) access kind. */
function parsePlanPairs(pairs: readonly string[]): Record<string, { tier: string; access?: 'paid' | 'comp' | 'gift' }> {
  const plans: Record<string, { tier: string; access?: 'paid' | 'comp' | 'gift' }> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new UsageError(`--plan "${pair}" is not PLAN=tier[:access]`);
    const [tier, access] = pair
      .slice(at + 1)
      .trim()
      .split(':');
    if (!tier || (access !== undefined && !['paid', 'comp', 'gift'].includes(access))) {
      throw new UsageError(`--plan "${pair}": the tier is a slug, the access paid, comp or gift`);
    }
    plans[pair.slice(0, at).trim()] = access === undefined ? { tier } : { tier, access: access as 'paid' | 'comp' | 'gift' };
  }
  return plans;
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function requireFlag(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} is required`);
  return value;
}

async function withBoot<T>(config: Config, fn: (booted: Booted) => Promise<T>): Promise<T> {
  const shutdown = shutdownOnSignals();
  const booted = await boot(config, { poolSize: 4, onStarted: shutdown.onStop });
  try {
    return await fn(booted);
  } finally {
    await booted.close();
  }
}

/**
 * Installs SIGINT/SIGTERM handlers at once (before anything starts), and when a signal arrives
 * runs the registered stops in reverse order of start: web, worker, pool, embedded database.
 * A command stopped once it was ready exits 0; one interrupted while starting or working exits
 * 128 + the signal's number (130, 143), as shells expect. A second signal exits at once.
 */
function shutdownOnSignals(): { onStop(stop: () => Promise<void>): void; ready(): void } {
  const stops: Array<() => Promise<void>> = [];
  let stopping = false;
  let isReady = false;
  const handler = (signal: NodeJS.Signals) => {
    const interruptedCode = signal === 'SIGINT' ? 130 : 143;
    if (stopping) {
      log.warn('second signal: exiting now', { signal });
      process.exit(interruptedCode);
    }
    stopping = true;
    log.info('shutting down', { signal });
    (async () => {
      for (const stop of [...stops].reverse()) await stop();
    })().then(
      () => process.exit(isReady ? 0 : interruptedCode),
      (err) => {
        log.error('shutdown failed', { message: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { onStop: (stop) => void stops.push(stop), ready: () => void (isReady = true) };
}

async function serve(config: Config, args: string[]): Promise<void> {
  const flags = parse(args, { 'no-worker': { type: 'boolean' } });
  const heap = await import('../lib/heap.ts');
  heap.applyAllocatorPolicy();
  heap.applyHeapPolicy();
  const { buildIfNeeded, startWebServer } = await import('../server.ts');
  buildIfNeeded();
  const shutdown = shutdownOnSignals();
  const booted = await boot(config, { poolSize: 20, onStarted: shutdown.onStop });
  const { runtime, database, embedded } = booted;
  let worker: QueueRunner | undefined;
  try {
    if (embedded) {
      const { isEmptySite, seedDemo } = await import('../domain/demo/seed.ts');
      if (await isEmptySite(runtime.db)) {
        const seeded = await seedDemo(runtime.db, { members: 300 });
        log.info('demo content added (first start of the embedded default)', { members: seeded.membersAdded });
      }
    }
    registerRuntime(runtime);
    worker = flags['no-worker'] ? undefined : await (await import('../worker.ts')).startWorker(runtime, database.pool);
    const started = worker;
    if (started) shutdown.onStop(() => started.stop());
    const web = await startWebServer({ host: config.host, port: config.port, trustProxy: config.trustProxy }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') throw new ConfigError('PORT', `${config.port} is already in use on ${config.host}`);
        if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new ConfigError('HOST', `cannot listen on "${config.host}"`);
        throw err;
      },
    );
    shutdown.onStop(() => web.close());
    const stopGiveBack = heap.startIdleGiveBack();
    shutdown.onStop(async () => stopGiveBack());
    shutdown.ready();
    // One host everywhere: the start line says SITE_URL, the address every email links to.
    log.info(`Hearth is running at ${config.siteUrl} (admin: ${config.siteUrl}/admin)`, {
      listening: web.url,
      worker: worker ? 'in process' : 'off',
    });
    const { startupBanner } = await import('./banner.ts');
    const { hasAnyStaff } = await import('../domain/staff/users.ts');
    process.stdout.write(
      startupBanner({
        config,
        listening: `${config.host.includes(':') ? `[${config.host}]` : config.host}:${new URL(web.url).port}`,
        hasStaff: await hasAnyStaff(runtime.db),
        worker: worker !== undefined,
      }),
    );
  } catch (err) {
    await worker?.stop();
    await booted.close();
    throw err;
  }
}

async function worker(config: Config, args: string[]): Promise<void> {
  parse(args, {});
  const heap = await import('../lib/heap.ts');
  heap.applyAllocatorPolicy();
  heap.applyHeapPolicy();
  const shutdown = shutdownOnSignals();
  const booted = await boot(config, { poolSize: 10, onStarted: shutdown.onStop });
  try {
    registerRuntime(booted.runtime);
    const runner = await (await import('../worker.ts')).startWorker(booted.runtime, booted.database.pool);
    shutdown.onStop(() => runner.stop());
    shutdown.ready();
  } catch (err) {
    await booted.close();
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined ? 2 : 0;
  }
  if (command !== 'psql' && (args.includes('--help') || args.includes('-h'))) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const known = [
    'serve',
    'worker',
    'migrate',
    'staff:create',
    'token:create',
    'newsletter:create',
    'newsletter:list',
    'newsletter:archive',
    'seed',
    'import',
    'import:posts',
    'export',
    'db:url',
    'psql',
    'stripe:sync',
  ];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}"`);
  const config = loadConfig();
  setLogLevel(config.logLevel);

  switch (command) {
    case 'serve':
      await serve(config, args);
      return -1; // keeps running
    case 'worker':
      await worker(config, args);
      return -1;
    case 'db:url': {
      parse(args, {});
      const { databaseUrl } = await import('./database-url.ts');
      process.stdout.write(databaseUrl(config) + '\n');
      return 0;
    }
    case 'psql': {
      const { openPsql } = await import('./database-url.ts');
      return openPsql(config, args);
    }
    case 'migrate': {
      parse(args, {});
      await withBoot(config, async () => undefined);
      process.stdout.write('database is up to date\n');
      return 0;
    }
    case 'staff:create': {
      const f = parse(args, {
        email: { type: 'string' },
        password: { type: 'string' },
        role: { type: 'string' },
        name: { type: 'string' },
      });
      const email = requireFlag(f.email, '--email');
      const password = requireFlag(f.password, '--password');
      const role = requireFlag(f.role, '--role');
      const { createStaffUser } = await import('../domain/staff/users.ts');
      const { isRole } = await import('../domain/staff/permissions.ts');
      if (!isRole(role)) throw new UsageError('--role must be owner, admin, editor or moderator');
      const user = await withBoot(config, ({ runtime }) => createStaffUser(runtime.db, { email, password, role, name: f.name }));
      process.stdout.write(`created ${user.role} ${user.email} (id ${user.id})\n`);
      return 0;
    }
    case 'token:create': {
      const f = parse(args, { email: { type: 'string' }, name: { type: 'string' } });
      const email = requireFlag(f.email, '--email');
      const { findStaffByEmail } = await import('../domain/staff/users.ts');
      const { createApiToken } = await import('../domain/staff/api-tokens.ts');
      const token = await withBoot(config, async ({ runtime }) => {
        const user = await findStaffByEmail(runtime.db, email);
        if (!user || user.disabled_at) throw new NotFoundError(`no active staff user with email ${email}`);
        return createApiToken(runtime.db, user.id, f.name ?? `CLI token ${new Date().toISOString().slice(0, 10)}`);
      });
      process.stdout.write(token.token + '\n');
      return 0;
    }
    case 'newsletter:create': {
      const f = parse(args, {
        slug: { type: 'string' },
        name: { type: 'string' },
        default: { type: 'boolean' },
        description: { type: 'string' },
        'sender-name': { type: 'string' },
        'sender-email': { type: 'string' },
        'reply-to': { type: 'string' },
      });
      const slug = requireFlag(f.slug, '--slug');
      const name = requireFlag(f.name, '--name');
      const { createNewsletter } = await import('../domain/newsletters/newsletters.ts');
      const created = await withBoot(config, ({ runtime }) =>
        createNewsletter(runtime.db, {
          slug,
          name,
          default: f.default ? true : undefined,
          description: f.description,
          senderName: f['sender-name'],
          senderEmail: f['sender-email'],
          replyTo: f['reply-to'],
        }),
      );
      process.stdout.write(
        `created newsletter ${created.slug} "${created.name}"${created.is_default ? ' (default)' : ''} (id ${created.id})\n`,
      );
      return 0;
    }
    case 'newsletter:list': {
      const f = parse(args, { archived: { type: 'boolean' } });
      const { listNewsletters } = await import('../domain/newsletters/newsletters.ts');
      const rows = await withBoot(config, ({ runtime }) => listNewsletters(runtime.db, { archived: Boolean(f.archived) }));
      for (const n of rows) {
        const marks = [n.is_default ? 'default' : '', n.archived_at ? 'archived' : ''].filter(Boolean).join(', ');
        process.stdout.write(`${n.slug}\t${n.name}${marks ? `\t(${marks})` : ''}\n`);
      }
      if (rows.length === 0) process.stdout.write('no newsletters yet: npm run hearth -- newsletter:create --slug S --name N\n');
      return 0;
    }
    case 'newsletter:archive': {
      const f = parse(args, { slug: { type: 'string' } });
      const slug = requireFlag(f.slug, '--slug');
      const { archiveNewsletter } = await import('../domain/newsletters/newsletters.ts');
      const archived = await withBoot(config, ({ runtime }) => archiveNewsletter(runtime.db, slug));
      process.stdout.write(`archived newsletter ${archived.slug}\n`);
      return 0;
    }
    case 'seed': {
      const f = parse(args, { demo: { type: 'boolean' }, members: { type: 'string' } });
      if (!f.demo) throw new UsageError('seed needs --demo');
      const members = f.members === undefined ? 300 : Number(f.members);
      if (!Number.isInteger(members) || members < 0 || members > 50_000_000) {
        throw new UsageError('--members must be a whole number from 0 to 50000000');
      }
      const { seedDemo } = await import('../domain/demo/seed.ts');
      const started = Date.now();
      const result = await withBoot(config, ({ runtime }) => seedDemo(runtime.db, { members }));
      process.stdout.write(`demo content ready; ${result.membersAdded} members added in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      return 0;
    }
    case 'export': {
      const [what, ...rest] = args;
      if (what === 'site') {
        const [file, ...more] = rest;
        if (!file || file.startsWith('-')) throw new UsageError('export site needs a FILE.tar.gz');
        parse(more, {});
        const { exportSiteToFile } = await import('../domain/backup/files.ts');
        const started = Date.now();
        const manifest = await withBoot(await siteArchiveConfig(config), ({ database }) =>
          exportSiteToFile(database.pool, file, { uploadsDir: config.uploadsDir }),
        );
        const rows = Object.values(manifest.tables).reduce((sum, t) => sum + t.rows, 0);
        process.stdout.write(
          `exported ${rows} rows from ${Object.keys(manifest.tables).length} tables and ${manifest.uploads.files} uploads to ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
        return 0;
      }
      if (what !== 'members') throw new UsageError('export takes "members" or "site FILE.tar.gz"');
      const f = parse(rest, {
        status: { type: 'string' },
        newsletter: { type: 'string' },
        tier: { type: 'string' },
        label: { type: 'string' },
        platform: { type: 'string' },
        query: { type: 'string' },
      });
      const { parseMemberFilter } = await import('../web/member-filter.ts');
      const { membersCsv } = await import('../domain/members/manage.ts');
      const params = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => typeof e[1] === 'string'));
      const filter = parseMemberFilter(params);
      await withBoot(config, async ({ runtime }) => {
        for await (const chunk of membersCsv(runtime.db, filter)) {
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
        }
      });
      return 0;
    }
    case 'stripe:sync': {
      parse(args, {});
      const { createCliStripeSync, runStripeSync } = await import('../domain/billing/adopt.ts');
      const { formatSyncReport } = await import('./stripe-sync-report.ts');
      const sync = await withBoot(config, async ({ runtime }) =>
        runStripeSync(runtime.db, runtime.stripe, runtime.keys, await createCliStripeSync(runtime.db)),
      );
      if (sync.status !== 'done' || !sync.report) throw new Error(`stripe:sync ${sync.id} failed: ${sync.error ?? sync.status}`);
      process.stdout.write(formatSyncReport(sync.id, sync.report));
      return 0;
    }
    case 'import:posts': {
      const [file, ...rest] = args;
      if (!file || file.startsWith('-')) throw new UsageError('import:posts needs a .json or .zip file');
      const f = parse(rest, { format: { type: 'string' } });
      if (f.format !== undefined && f.format !== 'ghost' && f.format !== 'substack')
        throw new UsageError('--format must be ghost or substack');
      const { existsSync, statSync } = await import('node:fs');
      const { readFile } = await import('node:fs/promises');
      if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`no such file: ${file}`);
      const { importPosts, formatPostReport } = await import('../domain/imports/posts/import.ts');
      const { MAX_FILE_BYTES } = await import('../domain/imports/posts/archive.ts');
      if (statSync(file).size > MAX_FILE_BYTES) throw new ValidationError(`the file is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
      const bytes = await readFile(file);
      const report = await withBoot(config, async ({ runtime }) =>
        importPosts(runtime.db, runtime.config.uploadsDir, bytes, f.format as 'ghost' | 'substack' | undefined),
      );
      process.stdout.write(formatPostReport(report));
      return 0;
    }
    case 'import': {
      if (args[0] === 'site') {
        const [, file, ...more] = args;
        if (!file || file.startsWith('-')) throw new UsageError('import site needs a FILE.tar.gz');
        const f = parse(more, { force: { type: 'boolean' } });
        const { existsSync } = await import('node:fs');
        if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
        const { importSite } = await import('../domain/backup/import.ts');
        const started = Date.now();
        const result = await withBoot(await siteArchiveConfig(config), ({ database }) =>
          importSite(database.pool, file, { uploadsDir: config.uploadsDir, force: Boolean(f.force) }),
        );
        process.stdout.write(
          `imported ${result.rows} rows and ${result.uploads} uploads from ${file} (written ${result.manifest.createdAt} by Hearth ${result.manifest.hearthVersion}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
        if (result.skippedTables.length > 0)
          process.stdout.write(`skipped tables this version does not have: ${result.skippedTables.join(', ')}\n`);
        process.stdout.write('staff API tokens and sessions are not in archives: sign in again and make new tokens\n');
        return 0;
      }
      const [file, ...rest] = args;
      if (!file || file.startsWith('-')) throw new UsageError('import needs a CSV file');
      const f = parse(rest, {
        newsletter: { type: 'string' },
        format: { type: 'string' },
        confirmed: { type: 'boolean' },
        attestation: { type: 'string' },
        'send-confirmation': { type: 'boolean' },
        preview: { type: 'boolean' },
        map: { type: 'string', multiple: true },
        plan: { type: 'string', multiple: true },
        'confirm-free': { type: 'boolean' },
        encoding: { type: 'string' },
      });
      const { isImportFormat, parseMapPairs } = await import('../domain/imports/formats.ts');
      const format = f.format ?? 'auto';
      if (format !== 'auto' && !isImportFormat(format))
        throw new UsageError('--format must be auto, generic, mailchimp, substack, ghost, beehiiv, kit, listmonk or hearth');
      if (f.encoding !== undefined && f.encoding !== 'utf-8' && f.encoding !== 'windows-1252')
        throw new UsageError('--encoding must be utf-8 or windows-1252');
      const mapping = parseMapPairs(f.map ?? []);
      const plans = parsePlanPairs(f.plan ?? []);
      const { createReadStream, existsSync } = await import('node:fs');
      const { basename } = await import('node:path');
      if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
      const { createImport, startImport, runImport, getImport, listChanges } = await import('../domain/imports/pipeline.ts');
      const started = Date.now();
      const { done, changes } = await withBoot(config, async ({ runtime, database }) => {
        const created = await createImport(runtime.db, { filename: basename(file), body: createReadStream(file) });
        await startImport(runtime.db, created.id, {
          format: format as 'auto',
          newsletterSlug: f.newsletter ?? null,
          markConfirmed: Boolean(f.confirmed),
          attestation: f.attestation ?? null,
          sendConfirmation: Boolean(f['send-confirmation']),
          preview: Boolean(f.preview),
          mapping,
          plans,
          confirmFree: Boolean(f['confirm-free']),
          encoding: f.encoding as 'utf-8' | undefined,
        });
        await runImport(runtime.db, database.pool, created.id);
        const record = await getImport(runtime.db, created.id);
        const page =
          record.status === 'done' || record.status === 'previewed' ? await listChanges(runtime.db, created.id, { limit: 50 }) : null;
        return { done: record, changes: page };
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (done.status === 'failed') throw new Error(`import ${done.id} failed: ${done.error ?? done.status}`);
      const summary = done.summary as {
        messages?: string[];
        plans?: Array<{ plan: string; access: string; rows: number; tier: string | null }>;
      } | null;
      const out: string[] = [];
      if (done.encoding !== 'utf-8') out.push(`read as ${done.encoding}`);
      for (const message of summary?.messages ?? []) out.push(message);
      for (const p of summary?.plans ?? []) out.push(`  plan "${p.plan}" (${p.access}): ${p.rows} rows → ${p.tier ?? 'free'}`);
      for (const c of changes?.changes ?? []) out.push(`  ${c.email}: ${c.change}${c.detail ? ` ${c.detail}` : ''}`);
      if (changes?.next) out.push('  … (the full list: /admin/imports/' + done.id + '/changes.csv)');
      if (done.status === 'previewed') {
        process.stdout.write(out.join('\n') + '\n');
        if (f.preview) {
          process.stdout.write(`preview ${done.id} (${done.format}): ${done.rows} rows, ${done.rejected} rejected; nothing was written\n`);
          return 0;
        }
        throw new Error('nothing was imported: map the paying members\' plans with --plan "PLAN=tier[:access]", or pass --confirm-free');
      }
      process.stdout.write(out.join('\n') + (out.length > 0 ? '\n' : ''));
      process.stdout.write(
        `import ${done.id} (${done.format}): ${done.rows} rows, ${done.imported} new, ${done.updated} updated, ${done.rejected} rejected in ${seconds} s\n`,
      );
      if (done.rejected > 0) process.stdout.write(`rejected rows with reasons: /admin/imports/${done.id}/rejections.csv\n`);
      return 0;
    }
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`hearth: ${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`hearth: configuration error: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof DomainError || err instanceof ValidationError) {
      process.stderr.write(`hearth: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`hearth: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.HEARTH_DEBUG) console.error(err);
    process.exit(1);
  },
);
