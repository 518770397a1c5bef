import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { freePort } from '../../src/lib/embedded-postgres.ts';
import { TEST_SECRET } from './db.ts';
import { waitFor } from './wait.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'src', 'cli', 'hearth.ts');

let dataDir: string | undefined;

/**
 * This test file's DATA_DIR for the servers and CLI runs it starts, unless a test names its own: a
 * fresh folder in the run's own (test/setup/global.ts removes it at the end), or, outside a test
 * run (a benchmark), one removed when the process exits. The default (`.data` in the checkout)
 * would put every test's uploads beside a developer's own, and share them between files and runs.
 */
function testDataDir(): string {
  if (dataDir === undefined) {
    const root = process.env.HEARTH_TEST_DATA_ROOT;
    const made = mkdtempSync(join(root ?? tmpdir(), root ? 'file-' : 'hearth-test-data-'));
    if (!root) process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    dataDir = made;
  }
  return dataDir;
}

/** The environment of a child process: ours minus anything that would point it elsewhere. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'DATABASE_URL',
    'APP_SECRET',
    'PORT',
    'HOST',
    'SITE_URL',
    'RESEND_API_KEY',
    'RESEND_BASE_URL',
    'MAIL_PROVIDER',
    'SMTP_URL',
    'STRIPE_SECRET_KEY',
    'STRIPE_API_BASE',
    'STRIPE_WEBHOOK_SECRET',
    'DATA_DIR',
    'UPLOADS_DIR',
    'BACKUP_DIR',
    'MAIL_FROM',
    'TRUST_PROXY',
    'DNS_SERVERS',
    'EMBEDDED_PG_PORT',
  ]) {
    delete env[key];
  }
  env.DATA_DIR = testDataDir();
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunningServer {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface StartOptions {
  databaseUrl?: string;
  env?: Record<string, string | undefined>;
  args?: string[];
  timeoutMs?: number;
}

/**
 * Starts `hearth serve` as a child process (the real CLI, the built site) and waits for /healthz.
 * The port is one the system had free a moment ago: another process (the other test worker's
 * servers, its fake Stripe or Resend) may take it before the child listens, so a start refused for
 * that port alone is made again on another one.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(options);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startServerOnce(options: StartOptions): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', ...(options.args ?? [])], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: options.databaseUrl,
      APP_SECRET: options.databaseUrl ? TEST_SECRET : undefined,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The address the tests use, so links the server makes (emails, Stripe's return URLs) come back here.
      SITE_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'info',
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      const message = `server exited (${child.exitCode}) before it was up:\n${out}`;
      const portTaken = !options.env?.PORT && out.includes(`PORT: ${port} is already in use`);
      throw portTaken ? new PortTakenError(message) : new Error(message);
    }
    try {
      // A bounded wait: whatever holds the port must not hold this loop (it checks the child between tries).
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      // Ours, not another server that took the port first: ours says it listens once it does.
      if (res.ok && out.includes('Hearth is running at')) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not up in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Waits until `server` has heard every change committed to the database so far. A test that writes
 * straight to the database stands for another process: the server learns of the write by NOTIFY,
 * at its own pace, and until then may answer from what it keeps in memory (pages, the site's
 * settings, a post's conversation). Notifications reach a listener in commit order, so once the
 * server has acted on one sent after the write, it has acted on the write. Seen by the home page
 * leaving its cache; twice, so that an older notification arriving in between cannot pass for ours.
 */
export async function heard(server: RunningServer, db: Kysely<any>): Promise<void> {
  const home = async () => {
    const res = await fetch(`${server.url}/`);
    await res.arrayBuffer();
    return res.headers.get('x-hearth-cache');
  };
  for (let round = 0; round < 2; round++) {
    await waitFor(home, { until: (c) => c === 'hit', timeout: 30_000, interval: 20, what: `the home page from memory on ${server.url}` });
    await sql`select pg_notify('hearth_pages', 'heard')`.execute(db);
    await waitFor(home, { until: (c) => c !== 'hit', timeout: 30_000, interval: 20, what: `a notification heard by ${server.url}` });
  }
}

/** Runs the CLI to completion. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hearth ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** A cookie jar of one: enough for a staff session in HTTP tests. */
export class Browserless {
  cookie = '';
  base: string;
  constructor(base: string) {
    this.base = base;
  }
  async request(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
      if (!headers.has('origin')) headers.set('origin', this.base);
    }
    const res = await fetch(this.base + path, { ...init, body, headers, redirect: 'manual' });
    const set = res.headers.getSetCookie();
    for (const c of set) {
      const [pair] = c.split(';');
      if (!pair) continue;
      const [name, value] = pair.split('=');
      if (name === 'hearth_staff') this.cookie = value ? `${name}=${value}` : '';
      if (/expires=Thu, 01 Jan 1970/i.test(c) || /max-age=0/i.test(c)) this.cookie = '';
    }
    return res;
  }
}
