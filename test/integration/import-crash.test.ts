import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImport, getImport, resumeImports, startImport } from '../../src/domain/imports/pipeline.ts';
import { MAX_RESTARTS } from '../../src/domain/imports/recovery.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { CLI, cleanEnv, ROOT } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A real `hearth worker` killed with SIGKILL in the middle of an import (while it stages the
 * file, then, if the timing allows, in the merge), then a new worker started: the import finishes
 * with every row exactly once, and never stays "running".
 */
const ROWS = 120_000;
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
});
afterAll(async () => {
  await t?.drop();
});

function startWorker(): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({ DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, SITE_URL: 'https://news.example.com', LOG_LEVEL: 'error' }),
    stdio: 'ignore',
  });
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

async function* csv(): AsyncIterable<Uint8Array> {
  yield Buffer.from('Email Address,First Name,Last Name,OPTIN_TIME,MEMBER_RATING,TAGS\n');
  for (let start = 0; start < ROWS; start += 10_000) {
    let text = '';
    for (let i = start; i < start + 10_000; i++) text += `reader${i}@example.com,Reader,${i},2024-01-01 10:00:00,2,"""Early"""\n`;
    yield Buffer.from(text);
  }
}

describe('an import survives its worker being killed', () => {
  it(`imports ${ROWS.toLocaleString('en')} rows exactly once after SIGKILLs`, async () => {
    const created = await createImport(t.db, { filename: 'big.csv', body: csv() });
    await startImport(t.db, created.id, { markConfirmed: true, attestation: 'double opt-in' });

    let worker = startWorker();
    const kills: string[] = [];
    try {
      // 1. While the file is being staged.
      await waitFor(() => getImport(t.db, created.id), {
        until: (r) => r.status === 'running' && r.rows > 0,
        timeout: 60_000,
        interval: 20,
        what: 'the import to start staging',
      });
      await killed(worker);
      kills.push('staging');
      const orphan = await getImport(t.db, created.id);
      expect(orphan.status).toBe('running');
      expect(orphan.imported).toBe(0);

      // 2. The next worker resumes it at its start; kill it again once the staging is complete (the merge), if we catch it.
      worker = startWorker();
      const staged = await waitFor(() => getImport(t.db, created.id), {
        until: (r) => r.status === 'done' || (r.status === 'running' && r.staged_mapping !== null),
        timeout: 90_000,
        interval: 10,
        what: 'the staging to complete',
      });
      if (staged.status === 'running') {
        await killed(worker);
        kills.push('merge');
        expect((await getImport(t.db, created.id)).status).toBe('running');
        worker = startWorker();
      }

      const done = await waitFor(() => getImport(t.db, created.id), {
        until: (r) => r.status === 'done' || r.status === 'failed',
        timeout: 120_000,
        interval: 200,
        what: 'the import to finish',
      });
      expect(done).toMatchObject({ status: 'done', rows: ROWS, imported: ROWS, updated: 0, rejected: 0 });
      expect(done.restarts).toBe(kills.length);
    } finally {
      await killed(worker);
    }
    const members = await sql<{ n: string; distinct: string }>`
      select count(*) as n, count(distinct lower(email)) as distinct from members`.execute(t.db);
    expect(members.rows[0]).toEqual({ n: String(ROWS), distinct: String(ROWS) });
    const subscribed = await sql<{ n: string }>`select count(*) as n from member_newsletters`.execute(t.db);
    expect(Number(subscribed.rows[0]!.n)).toBe(ROWS);
    // The staged rows go with the merge's commit.
    const stagedLeft = async () => Number((await sql<{ n: string }>`select count(*) as n from import_rows`.execute(t.db)).rows[0]!.n);
    expect(
      await waitFor(stagedLeft, { until: (n) => n === 0, timeout: 30_000, interval: 200, what: 'the staged rows to be cleaned up' }),
    ).toBe(0);
    console.log(`import crash trial: killed during ${kills.join(' and ')}`);
  }, 300_000);
});

describe('the import watchdog', () => {
  async function orphan(restarts: number) {
    const created = await createImport(t.db, {
      filename: 'small.csv',
      body: (async function* () {
        yield Buffer.from('email\na@example.com\n');
      })(),
    });
    await startImport(t.db, created.id, {});
    await t.db
      .updateTable('imports')
      .set({ status: 'running', restarts, heartbeat_at: new Date(Date.now() - 60_000) })
      .where('id', '=', created.id)
      .execute();
    return created.id;
  }

  it('restarts an import nobody runs, and gives up after MAX_RESTARTS with a message', async () => {
    const again = await orphan(0);
    const hopeless = await orphan(MAX_RESTARTS);
    expect(await resumeImports(t.db, { stalledForSeconds: 30 })).toBe(2);
    expect(await getImport(t.db, again)).toMatchObject({ status: 'running', restarts: 1 });
    expect(await getImport(t.db, hopeless)).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted 5 times/) });
    // Just restarted: not stalled again yet.
    expect(await resumeImports(t.db, { stalledForSeconds: 30 })).toBe(0);
    await t.db.updateTable('imports').set({ status: 'failed' }).where('id', '=', again).execute();
  });
});
