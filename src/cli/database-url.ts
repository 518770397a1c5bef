import { spawn, spawnSync } from 'node:child_process';
import { boot } from '../boot.ts';
import type { Config } from '../lib/config.ts';
import { setLogLevel } from '../lib/log.ts';
import { runningEmbeddedUrl, withDatabase } from '../lib/embedded-postgres.ts';

/**
 * `db:url` and `psql`: the operator reaches the database Hearth uses without reading `.data`.
 * With DATABASE_URL, that URL. With the embedded default, the URL of the server a running Hearth
 * started (its port is in postmaster.pid, its password in DATA_DIR/postgres-password), or, with
 * EMBEDDED_PG_PORT, the fixed address it will have.
 */
export class DatabaseNotRunning extends Error {}

export function databaseUrl(config: Config): string {
  if (config.databaseUrl) return config.databaseUrl;
  const running = runningEmbeddedUrl(config.dataDir);
  if (running) return running;
  throw new DatabaseNotRunning(
    `the embedded database in ${config.dataDir} is not running: start Hearth (npm start), or use \`npm run hearth -- psql\`, which starts it for the session${config.embeddedPgPort === undefined ? '; set EMBEDDED_PG_PORT to give it the same address at every start' : ''}`,
  );
}

function hasPsql(): boolean {
  const probe = spawnSync('psql', ['--version'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

/** The URL without its password, and the password apart (for PGPASSWORD: not on psql's command line, where `ps` shows it). */
function splitPassword(url: string): { url: string; password: string | undefined } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  return { url: u.toString(), password };
}

function runPsql(url: string, args: string[]): Promise<number> {
  const { url: bare, password } = splitPassword(url);
  const child = spawn('psql', [...args, bare], {
    stdio: 'inherit',
    env: { ...process.env, ...(password !== undefined ? { PGPASSWORD: password } : {}) },
  });
  // Ctrl-C belongs to psql (it cancels the query): this process waits for psql to end.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  return new Promise((resolveExit, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolveExit(code ?? (signal ? 1 : 0));
    });
  });
}

/** Opens psql on the database in use; the embedded one is started for the session when no Hearth runs. */
export async function openPsql(config: Config, args: string[]): Promise<number> {
  if (!hasPsql()) {
    throw new Error(
      'no psql client on PATH: install PostgreSQL’s client (Debian: apt-get install postgresql-client), or point any client at the URL from `npm run hearth -- db:url`',
    );
  }
  try {
    return await runPsql(databaseUrl(config), args);
  } catch (err) {
    if (!(err instanceof DatabaseNotRunning)) throw err;
  }
  // psql owns the terminal: start-up notes (the database starting) would land in its output.
  if (config.logLevel === 'info') setLogLevel('warn');
  const booted = await boot(config, { poolSize: 1 });
  try {
    return await runPsql(withDatabase(booted.embedded!.url, 'hearth'), args);
  } finally {
    await booted.close();
  }
}
