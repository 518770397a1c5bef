import type pg from 'pg';
import { migrations } from '../../../db/migrations/index.ts';
import packageJson from '../../../package.json' with { type: 'json' };

/**
 * Which tables the site archive carries: every table of the `public` schema (partitions through
 * their parent), read from the catalog so that a table added later is exported by default,
 * minus this deny list. Each entry says why.
 */
export const NOT_EXPORTED: Readonly<Record<string, string>> = {
  api_tokens: 'secret: staff API tokens (hashed, but they open the API); make new ones after a restore',
  staff_sessions: 'secret: staff sign-in sessions',
  member_sessions: 'secret: member sign-in sessions',
  member_sign_ins: 'secret: pending sign-in links',
  webhooks: 'secret: outbound webhook endpoints with their signing secrets (register them again after a restore)',
  webhook_attempts: 'volatile: the attempt log of outbound webhooks',
  webhook_deliveries: 'volatile: the delivery log of outbound webhooks',
  fediverse_keys: "secret: the fediverse actor's private keys (a restored site makes new ones on first use)",
  fediverse_kv: 'volatile: cached remote fediverse keys and documents',
  fediverse_deliveries: 'volatile: the delivery log of fediverse activities',
  rate_limits: 'volatile: rate-limit counters',
  mail_rate: 'volatile: the mail provider rate window',
  smtp_journal: 'volatile: which SMTP messages the relay answered, kept only while a retry may need it',
  worker_heartbeats: 'volatile: which workers are alive',
  kysely_migration: 'the schema version: the target has its own, checked against the manifest',
  kysely_migration_lock: 'the migrator lock',
};

/** The schema version an archive is written at: the newest migration's name. */
export const SCHEMA_VERSION: string = Object.keys(migrations).at(-1)!;
export const HEARTH_VERSION: string = packageJson.version;

/** Where a schema version stands among ours; -1 for a name we do not know (a newer Hearth's). */
export function schemaIndex(version: string): number {
  return Object.keys(migrations).indexOf(version);
}

export interface ArchiveTable {
  name: string;
  columns: string[];
  /** Columns written on import: not generated ones. */
  writable: string[];
  /** Set when a foreign key points into the same table: rows go out in this key's order. */
  orderBy: string[] | null;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The exported tables in an order that loads parents before children (cycles broken by name). */
export async function archiveTables(client: Queryable): Promise<ArchiveTable[]> {
  const tables = await client.query<{ name: string; columns: string[]; writable: string[]; pk: string[] | null }>(`
    select c.relname as name,
           array_agg(a.attname::text order by a.attnum) as columns,
           array_agg(a.attname::text order by a.attnum) filter (where a.attgenerated = '') as writable,
           (select array_agg(pa.attname::text order by array_position(i.indkey::int2[], pa.attnum))
              from pg_index i join pg_attribute pa on pa.attrelid = i.indrelid and pa.attnum = any(i.indkey)
             where i.indrelid = c.oid and i.indisprimary) as pk
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
     group by c.oid, c.relname
     order by c.relname`);
  const links = await client.query<{ child: string; parent: string }>(`
    select distinct ch.relname as child, pa.relname as parent
      from pg_constraint k
      join pg_class ch on ch.oid = k.conrelid
      join pg_class pa on pa.oid = k.confrelid
      join pg_namespace n on n.oid = ch.relnamespace
     where k.contype = 'f' and n.nspname = 'public'`);
  const kept = tables.rows.filter((t) => !(t.name in NOT_EXPORTED));
  const names = new Set(kept.map((t) => t.name));
  const parents = new Map<string, Set<string>>(kept.map((t) => [t.name, new Set<string>()]));
  const selfLinked = new Set<string>();
  for (const { child, parent } of links.rows) {
    if (!names.has(child) || !names.has(parent)) continue;
    if (child === parent) selfLinked.add(child);
    else parents.get(child)!.add(parent);
  }
  const ordered: string[] = [];
  const placed = new Set<string>();
  while (ordered.length < kept.length) {
    const ready = kept.find((t) => !placed.has(t.name) && [...parents.get(t.name)!].every((p) => placed.has(p)));
    const next = ready ?? kept.find((t) => !placed.has(t.name))!;
    ordered.push(next.name);
    placed.add(next.name);
  }
  const byName = new Map(kept.map((t) => [t.name, t]));
  return ordered.map((name) => {
    const t = byName.get(name)!;
    return {
      name,
      columns: t.columns,
      writable: t.writable ?? [],
      orderBy: selfLinked.has(name) && t.pk ? t.pk : null,
    };
  });
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
