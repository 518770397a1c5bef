import { Migrator, type MigrationResultSet } from 'kysely/migration';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { migrations } from './migrations/index.ts';

/**
 * Brings the schema up to date: our migrations (Kysely's Migrator, which takes a lock so two
 * processes starting at once do not race), then graphile-worker's own schema.
 */
const quietLogger = new Logger(() => () => undefined);

export async function migrateToLatest(db: Kysely<any>, pool: pg.Pool): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`);
  }
  await runWorkerMigrations({ pgPool: pool, logger: quietLogger });
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
