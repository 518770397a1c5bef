import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import pg from 'pg';
import { freePort } from '../../src/lib/embedded-postgres.ts';
import { ALLOCATOR_ENV } from '../../src/lib/heap.ts';
import { runCli, startServer } from '../helpers/server.ts';

const psqlFound = spawnSync('psql', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * `npm start`'s embedded default, end to end: a real PostgreSQL under DATA_DIR, the demo
 * brand on first start, a clean stop on SIGTERM, reuse of the data on the next start, and
 * recovery after the process is killed outright.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'hearth-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function postgresPid(): number | null {
  const file = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(file)) return null;
  return Number(readFileSync(file, 'utf8').split('\n')[0]);
}

/** A running process's environment (Linux /proc; the tests run as its owner or as root). */
function environOf(pid: number): Record<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface FirstStart {
  home: string;
  output: string;
  secret: string;
  secretMode: number;
  exitCode: number | null;
  postgresStopped: boolean;
}

let first: Promise<FirstStart> | undefined;

/**
 * The first start on the empty DATA_DIR (initdb, migrations, the demo seed), stopped with SIGTERM.
 * Every test here needs it, so each asks for it; it is made once, and any test can run alone or
 * in any order. Each test leaves the directory stopped, as it found it. The hook below makes it
 * up front, so the minute an initdb and a seed can take counts against the setup's time limit.
 */
function firstStart(): Promise<FirstStart> {
  first ??= (async () => {
    const server = await startServer({ env: { DATA_DIR: dataDir } });
    let home = '';
    let exitCode: number | null = null;
    try {
      home = await (await fetch(server.url + '/')).text();
    } finally {
      exitCode = await server.stop('SIGTERM');
    }
    const pid = postgresPid();
    return {
      home,
      output: server.output(),
      secret: readFileSync(join(dataDir, 'app-secret'), 'utf8'),
      secretMode: statSync(join(dataDir, 'app-secret')).mode,
      exitCode,
      postgresStopped: pid === null || !alive(pid),
    };
  })();
  return first;
}

describe('the embedded default', () => {
  beforeAll(async () => {
    await firstStart();
  });

  it('starts PostgreSQL under DATA_DIR, seeds the demo brand and serves it', async () => {
    const start = await firstStart();
    expect(start.home).toContain('Field Notes Coffee');
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(start.secret.trim().length).toBeGreaterThanOrEqual(32);
    expect(start.secretMode & 0o077).toBe(0);
    expect(start.output).toMatch(/demo content added.*"members":300/);
    expect(start.exitCode).toBe(0);
    expect(start.postgresStopped).toBe(true);
  });

  it('reuses the data and the secret on the next start, without seeding again', async () => {
    const { secret: firstSecret } = await firstStart();
    // No time bound: a busy machine stretches a start (bench/startup.ts measures it); the output says it did not seed.
    const server = await startServer({ env: { DATA_DIR: dataDir } });
    try {
      expect(server.output()).not.toContain('demo content added');
      expect(server.output()).not.toContain('migrations applied');
      expect(readFileSync(join(dataDir, 'app-secret'), 'utf8')).toBe(firstSecret);
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
    }
  });

  it("runs PostgreSQL with glibc's own allocator settings, not those the server starts Node under, and synchronous I/O", async () => {
    await firstStart();
    // `serve` restarts itself under ALLOCATOR_ENV (heap.ts); the database it starts must not inherit them.
    const server = await startServer({ env: { DATA_DIR: dataDir } });
    try {
      const serverEnv = environOf(server.child.pid!);
      expect(serverEnv.MALLOC_MMAP_THRESHOLD_).toBe(ALLOCATOR_ENV.MALLOC_MMAP_THRESHOLD_);
      const postgresEnv = environOf(postgresPid()!);
      expect(postgresEnv.LC_ALL).toBe('C');
      for (const name of Object.keys(ALLOCATOR_ENV)) expect(postgresEnv[name], name).toBeUndefined();
      // PostgreSQL 18's I/O workers only took turns with the backends on a small machine (embedded-postgres.ts).
      expect(readFileSync(`/proc/${postgresPid()!}/cmdline`, 'utf8').split('\0')).toContain('io_method=sync');
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
    }
  });

  it('recovers after being killed outright (the orphaned database is stopped and restarted)', async () => {
    await firstStart();
    const server = await startServer({ env: { DATA_DIR: dataDir } });
    await server.stop('SIGKILL');
    const orphan = postgresPid();
    expect(orphan !== null && alive(orphan)).toBe(true);
    const again = await startServer({ env: { DATA_DIR: dataDir } });
    try {
      expect(alive(orphan!)).toBe(false);
      const health = await (await fetch(again.url + '/healthz')).json();
      expect(health).toMatchObject({ ok: true, db: 'up' });
      expect(await (await fetch(again.url + '/')).text()).toContain('Field Notes Coffee');
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  it('EMBEDDED_PG_PORT pins the port; db:url prints the running database and psql opens it; psql alone starts it for the session', async () => {
    await firstStart();
    const port = await freePort();
    const server = await startServer({ env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port) } });
    try {
      const url = await runCli(['db:url'], { DATA_DIR: dataDir });
      expect(url.code).toBe(0);
      expect(url.stdout.trim()).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${port}/hearth$`));
      const direct = new pg.Client({ connectionString: url.stdout.trim() });
      await direct.connect();
      expect((await direct.query('select count(*)::int as n from members')).rows[0].n).toBe(300);
      await direct.end();
      if (psqlFound) {
        const q = await runCli(['psql', '-At', '-c', 'select count(*) from members'], { DATA_DIR: dataDir });
        expect(q.stdout.trim()).toBe('300');
        expect(q.code).toBe(0);
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const stopped = await runCli(['db:url'], { DATA_DIR: dataDir });
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/is not running: start Hearth/);
    if (psqlFound) {
      const q = await runCli(['psql', '-At', '-c', 'select 40 + 2'], { DATA_DIR: dataDir });
      expect(q.stdout.trim()).toBe('42');
      expect(q.code).toBe(0);
      expect(postgresPid() === null || !alive(postgresPid()!)).toBe(true);
    }
  });

  it('refuses an EMBEDDED_PG_PORT that is taken, naming the variable', async () => {
    await firstStart();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['migrate'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(taken) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`configuration error: EMBEDDED_PG_PORT: port ${taken} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('refuses a second process on the same data directory with one clear line', async () => {
    await firstStart();
    const server = await startServer({ env: { DATA_DIR: dataDir } });
    try {
      // No 20 s bound on the refusal: a busy machine takes longer than that to start a second
      // process; the start-up's own hang guard (60 s) is enough, and the test's limit makes room for it.
      await expect(startServer({ env: { DATA_DIR: dataDir } })).rejects.toThrow(
        /another Hearth process \(pid \d+\) is using the embedded database/,
      );
    } finally {
      await server.stop();
    }
  }, 180_000);
});

describe('the embedded default run as root from a private folder', () => {
  // A checkout under /root or a 0700 temp folder: the postgres user cannot get through it.
  it.runIf(process.getuid?.() === 0)('keeps the database where postgres can reach it and still serves', async () => {
    const privateParent = mkdtempSync(join(tmpdir(), 'hearth-private-'));
    try {
      const inside = join(privateParent, '.data');
      const server = await startServer({ env: { DATA_DIR: inside } });
      try {
        expect(await (await fetch(server.url + '/healthz')).json()).toMatchObject({ ok: true, db: 'up' });
        const location = readFileSync(join(inside, 'postgres-location'), 'utf8').trim();
        expect(location).toMatch(/^\/var\/lib\/hearth\/data-[0-9a-f]{12}$/);
        expect(existsSync(join(location, 'PG_VERSION'))).toBe(true);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    } finally {
      rmSync(privateParent, { recursive: true, force: true });
    }
  });
});
