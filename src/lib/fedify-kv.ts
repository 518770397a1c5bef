import type { KvKey, KvStore, KvStoreListEntry, KvStoreSetOptions } from '@fedify/fedify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';

/**
 * Fedify's KvStore on the application's own Postgres (table fediverse_kv, migration 0046).
 * `@fedify/postgres` fits Fedify 1.x only; this is the same contract on Kysely: JSON values, an
 * optional time to live, compare-and-swap, and a prefix listing. A key path is joined with the
 * unit separator (U+001F), which no URL or identifier Fedify stores contains, so a prefix of
 * the path is a prefix of the text.
 */
const SEP = '\u001f';

function encode(key: KvKey): string {
  return key.join(SEP);
}

function expiry(options?: KvStoreSetOptions): Date | null {
  if (!options?.ttl) return null;
  return new Date(Date.now() + options.ttl.total({ unit: 'millisecond' }));
}

export class KyselyKvStore implements KvStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get<T = unknown>(key: KvKey): Promise<T | undefined> {
    const row = await this.#db
      .selectFrom('fediverse_kv')
      .select('value')
      .where('key', '=', encode(key))
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .executeTakeFirst();
    return row === undefined ? undefined : (row.value as T);
  }

  async set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    const json = JSON.stringify(value ?? null);
    const expires = expiry(options);
    await this.#db
      .insertInto('fediverse_kv')
      .values({ key: encode(key), value: json, expires_at: expires })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, expires_at: expires }))
      .execute();
  }

  async delete(key: KvKey): Promise<void> {
    await this.#db.deleteFrom('fediverse_kv').where('key', '=', encode(key)).execute();
  }

  /** Swaps only when the stored value (undefined: absent or expired) equals the expected one. */
  async cas(key: KvKey, expectedValue: unknown, newValue: unknown, options?: KvStoreSetOptions): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const k = encode(key);
      // Serialises swaps of one key, present or not (a row lock cannot hold an absent key).
      await sql`select pg_advisory_xact_lock(hashtext(${'fedify-kv:' + k}))`.execute(trx);
      const row = await trx.selectFrom('fediverse_kv').select(['value', 'expires_at']).where('key', '=', k).executeTakeFirst();
      const live = row && (row.expires_at === null || row.expires_at > new Date()) ? row.value : undefined;
      if (JSON.stringify(live) !== JSON.stringify(expectedValue)) return false;
      const json = JSON.stringify(newValue ?? null);
      const expires = expiry(options);
      await trx
        .insertInto('fediverse_kv')
        .values({ key: k, value: json, expires_at: expires })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, expires_at: expires }))
        .execute();
      return true;
    });
  }

  async *list(prefix?: KvKey): AsyncIterable<KvStoreListEntry> {
    const p = prefix ? encode(prefix) : '';
    const rows = await this.#db
      .selectFrom('fediverse_kv')
      .select(['key', 'value'])
      .$if(p !== '', (q) => q.where((eb) => eb.or([eb('key', '=', p), eb(sql`left(key, ${p.length + 1})`, '=', p + SEP)])))
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .orderBy('key')
      .execute();
    for (const row of rows) yield { key: row.key.split(SEP) as unknown as KvKey, value: row.value };
  }
}
