import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

let t: TestDatabase;
let env: Record<string, string>;
beforeAll(async () => {
  t = await createTestDatabase();
  env = { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' };
});
afterAll(async () => {
  await t.drop();
});

/** The one line a failed start prints: no stack trace, no JSON log noise. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

describe('start-up errors', () => {
  it('PORT=abc exits non-zero with one clear line', async () => {
    const r = await runCli(['serve'], { PORT: 'abc' });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('hearth: configuration error: PORT: must be a port number from 0 to 65535, got "abc"');
  });

  it('a malformed DATABASE_URL names the variable', async () => {
    const r = await runCli(['serve'], { DATABASE_URL: 'localhost/hearth', APP_SECRET: TEST_SECRET });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^hearth: configuration error: DATABASE_URL: /);
  });

  it('an unreachable database names the variable and the address', async () => {
    const r = await runCli(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/hearth', APP_SECRET: TEST_SECRET });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(
      /^hearth: configuration error: DATABASE_URL: cannot connect to the database at 127\.0\.0\.1:1\/hearth \(ECONNREFUSED/,
    );
  });

  it('DATABASE_URL without APP_SECRET is refused', async () => {
    const r = await runCli(['migrate'], { DATABASE_URL: t.url });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/APP_SECRET: is required when DATABASE_URL is set/);
  });
});

describe('usage', () => {
  it('prints help with exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('staff:create --email E --password P --role owner|admin|editor|moderator');
  });

  it.each([
    [['frobnicate']],
    [['migrate', '--bogus']],
    [['staff:create', '--email', 'a@example.com']],
    [['seed']],
    [['seed', '--demo', '--members', 'many']],
    [[]],
  ])('exits 2 with usage for %j', async (args) => {
    const r = await runCli(args, env);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain('Usage: npm run hearth');
  });
});

describe('db:url and psql', () => {
  const psqlFound = spawnSync('psql', ['--version'], { stdio: 'ignore' }).status === 0;

  it('db:url prints DATABASE_URL when it is set', async () => {
    const r = await runCli(['db:url'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${t.url}\n`);
  });

  it.runIf(psqlFound)('psql opens it and passes its arguments to psql', async () => {
    const r = await runCli(['psql', '-At', '-c', 'select 6 * 7'], env);
    expect(r.stdout.trim()).toBe('42');
    expect(r.code).toBe(0);
  });

  it('psql without a psql client says so in one line', async () => {
    const r = await runCli(['psql', '-c', 'select 1'], { ...env, PATH: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^hearth: no psql client on PATH: install/);
  });

  it('db:url of an embedded database that is not running says how to start it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-dburl-'));
    try {
      const r = await runCli(['db:url'], { DATA_DIR: dir, LOG_LEVEL: 'warn' });
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/^hearth: the embedded database in .* is not running: start Hearth \(npm start\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([['abc'], ['0'], ['70000']])('refuses EMBEDDED_PG_PORT=%s with one line', async (value) => {
    const r = await runCli(['db:url'], { EMBEDDED_PG_PORT: value });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`hearth: configuration error: EMBEDDED_PG_PORT: must be a port number from 1 to 65535, got "${value}"`);
  });

  it.each([['localhost'], ['1.2.3.4:99999'], [','], ['[::1']])('refuses DNS_SERVERS=%s with one line', async (value) => {
    const r = await runCli(['db:url'], { ...env, DNS_SERVERS: value });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^hearth: configuration error: DNS_SERVERS: must be a comma-separated list of IP addresses/);
  });
});

describe('operator commands', () => {
  it('migrate is idempotent', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['migrate'], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('database is up to date');
    }
  });

  it('staff:create then token:create prints a token that the database knows by its hash', async () => {
    const created = await runCli(
      ['staff:create', '--email', 'Ops@Example.com', '--password', 'an operator password', '--role', 'admin', '--name', 'Ops'],
      env,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/created admin ops@example\.com/);
    const dup = await runCli(['staff:create', '--email', 'ops@example.com', '--password', 'an operator password', '--role', 'admin'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('hearth: A staff user with that email already exists.\n');
    const badRole = await runCli(['staff:create', '--email', 'x@example.com', '--password', 'an operator password', '--role', 'king'], env);
    expect(badRole.code).toBe(2);

    const token = await runCli(['token:create', '--email', 'ops@example.com'], env);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^hearth_[A-Za-z0-9_-]{43}$/);
    const rows = await t.db.selectFrom('api_tokens').select(['token_hash']).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toBe(token.stdout.trim());

    const unknown = await runCli(['token:create', '--email', 'nobody@example.com'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no active staff user/);
  });

  it('seed --demo --members N adds N members from several platforms and stays idempotent for the rest', async () => {
    const first = await runCli(['seed', '--demo', '--members', '250'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/250 members added/);
    const second = await runCli(['seed', '--demo', '--members', '50'], env);
    expect(second.stdout).toMatch(/50 members added/);
    const count = await t.db
      .selectFrom('members')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(300);
    const newsletters = await t.db.selectFrom('newsletters').select('slug').execute();
    expect(newsletters).toHaveLength(2);
    const platforms = await t.db.selectFrom('members').select('source_platform').distinct().execute();
    expect(platforms.length).toBeGreaterThanOrEqual(5);
    const unsubscribedEverywhere = await t.db
      .selectFrom('members')
      .leftJoin('member_newsletters', 'member_newsletters.member_id', 'members.id')
      .select('members.id')
      .where('member_newsletters.member_id', 'is', null)
      .execute();
    expect(unsubscribedEverywhere).toHaveLength(0);
  });
});

describe('the start-up banner', () => {
  it('prints SITE_URL (not the listening address), the admin, the outbox and the data, once, in plain text', async () => {
    const { startServer } = await import('../helpers/server.ts');
    const web = await startServer({ databaseUrl: t.url, env: { SITE_URL: 'https://news.example.com' } });
    try {
      const out = await waitFor(() => web.output(), { until: (o) => o.includes('Ctrl-C stops it.'), what: 'the banner' });
      const banner = out.split('\n').filter((l) => !l.startsWith('{'));
      const text = banner.join('\n');
      expect(text.match(/Hearth is running at/g)).toHaveLength(1);
      expect(text).toContain('Hearth is running at https://news.example.com\n');
      expect(text).toMatch(/^ {2}Site +https:\/\/news\.example\.com$/m);
      expect(text).toMatch(/^ {2}Admin +https:\/\/news\.example\.com\/admin/m);
      expect(text).toMatch(/^ {2}Email +no mail provider set: .*https:\/\/news\.example\.com\/admin\/outbox/m);
      // The database by host and name only: never its password.
      expect(text).toMatch(new RegExp(`^ {2}Data +PostgreSQL at ${new URL(t.url).host}${new URL(t.url).pathname}; uploads in /`, 'm'));
      expect(text).not.toContain('postgres://');
      // Behind a proxy the listening address differs from SITE_URL: said once, as such.
      expect(text).toMatch(
        new RegExp(`^ {2}Listening 127\\.0\\.0\\.1:${new URL(web.url).port} \\(SITE_URL is the public address\\)$`, 'm'),
      );
      // The structured start line names SITE_URL too, not 127.0.0.1.
      const start = out.split('\n').find((l) => l.includes('"Hearth is running at'));
      expect(JSON.parse(start!).msg).toBe('Hearth is running at https://news.example.com (admin: https://news.example.com/admin)');
    } finally {
      await web.stop();
    }
  });
});

describe('web and worker as separate processes', () => {
  it('serve --no-worker reports the worker down until `hearth worker` runs against the same database', async () => {
    const { startServer, CLI, cleanEnv, ROOT } = await import('../helpers/server.ts');
    const { spawn } = await import('node:child_process');
    const web = await startServer({ databaseUrl: t.url, args: ['--no-worker'] });
    const health = async () => (await (await fetch(web.url + '/healthz')).json()) as { worker: string };
    try {
      await t.db.deleteFrom('worker_heartbeats').execute();
      expect(await health()).toEqual({ ok: true, db: 'up', worker: 'down' });
      const worker = spawn(process.execPath, [CLI, 'worker'], { cwd: ROOT, env: cleanEnv(env), stdio: 'ignore' });
      try {
        expect((await waitFor(health, { until: (h) => h.worker === 'up', timeout: 20_000, what: 'the worker' })).worker).toBe('up');
      } finally {
        const exited = new Promise((r) => worker.once('exit', r));
        worker.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
      // A clean stop removes the worker's heartbeat: health says down at once, not 30 s later.
      expect((await health()).worker).toBe('down');
    } finally {
      await web.stop();
    }
  });
});

describe('import and export from the command line', () => {
  it('imports a Substack export with the same code as the admin, then exports members as CSV', async () => {
    const { join } = await import('node:path');
    const { ROOT } = await import('../helpers/server.ts');
    const file = join(ROOT, 'test', 'fixtures', 'imports', 'substack.csv');
    const consent = ['--newsletter', 'weekly-brew', '--confirmed', '--attestation', 'Moved from Substack; all opted in there'];
    // A paying reader whose plan maps to no tier: the import asks first, and writes nothing.
    const asks = await runCli(['import', file, ...consent], env);
    expect(asks.code).toBe(1);
    expect(asks.stdout).toContain('1 member who pays, is comped or has a gift at the source would be imported as free');
    expect(asks.stdout).toContain('plan "yearly" (paid): 1 rows → free');
    expect(asks.stderr).toMatch(/--plan "PLAN=tier\[:access\]", or pass --confirm-free/);
    const preview = await runCli(['import', file, '--preview', '--plan', 'yearly=supporter', ...consent], env);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/4 new members will be added/);
    expect(preview.stdout).toMatch(/^preview \d+ \(substack\): 5 rows, 1 rejected; nothing was written$/m);
    const r = await runCli(['import', file, '--plan', 'yearly=supporter', ...consent], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^import \d+ \(substack\): \d+ rows, \d+ new, \d+ updated, \d+ rejected in [\d.]+ s/m);
    const payer = await t.db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .select(['t.slug', 'm.tier_source'])
      .where('m.email', '=', 'reader@example.com')
      .executeTakeFirstOrThrow();
    expect(payer).toEqual({ slug: 'supporter', tier_source: 'stripe' });
    const imported = await t.db
      .selectFrom('members')
      .select(['email', 'status', 'source_platform'])
      .where('source_platform', '=', 'import')
      .execute();
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.some((m) => m.status === 'active')).toBe(true);

    const exported = await runCli(['export', 'members', '--platform', 'import'], env);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id,email,name,status/);
    expect(lines).toHaveLength(imported.length + 1);
    for (const m of imported) expect(exported.stdout).toContain(m.email);
  });

  it('refuses a missing file, a bad format and a consent claim without attestation', async () => {
    expect((await runCli(['import', '/no/such/file.csv'], env)).code).toBe(2);
    const { join } = await import('node:path');
    const { ROOT } = await import('../helpers/server.ts');
    const file = join(ROOT, 'test', 'fixtures', 'imports', 'generic.csv');
    expect((await runCli(['import', file, '--format', 'myspace'], env)).code).toBe(2);
    const noAttestation = await runCli(['import', file, '--confirmed'], env);
    expect(noAttestation.code).toBe(1);
    expect(noAttestation.stderr).toMatch(/^hearth: To import these members as confirmed, state how they gave their consent/);
    expect((await runCli(['export', 'posts'], env)).code).toBe(2);
  });
});
