import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/** Followers (fediverse accounts following the site's actor) and blocked servers. */
const PAGE = 50;

export async function countFollowers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('fediverse_followers')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A page of followers by keyset on id; the cursor is the last id ('' for the first page). */
export async function listFollowerPage(db: Kysely<Database>, cursor: string | null) {
  const after = cursor && /^\d+$/.test(cursor) ? cursor : null;
  const rows = await db
    .selectFrom('fediverse_followers')
    .select(['id', 'actor_uri', 'inbox', 'shared_inbox'])
    .$if(after !== null, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(PAGE + 1)
    .execute();
  const items = rows.slice(0, PAGE);
  return { items, next: rows.length > PAGE ? items.at(-1)!.id : null };
}

export interface NewFollower {
  actorUri: string;
  handle: string;
  inbox: string;
  sharedInbox: string | null;
}

export async function saveFollower(db: Kysely<Database>, f: NewFollower): Promise<void> {
  const server = new URL(f.actorUri).host;
  await db
    .insertInto('fediverse_followers')
    .values({ actor_uri: f.actorUri, handle: f.handle, server, inbox: f.inbox, shared_inbox: f.sharedInbox })
    .onConflict((oc) => oc.column('actor_uri').doUpdateSet({ handle: f.handle, inbox: f.inbox, shared_inbox: f.sharedInbox }))
    .execute();
}

export async function removeFollower(db: Kysely<Database>, actorUri: string): Promise<void> {
  await db.deleteFrom('fediverse_followers').where('actor_uri', '=', actorUri).execute();
}

/** The admin's view: followers newest first, and how many each server has. */
export async function followersForAdmin(db: Kysely<Database>, limit = 200) {
  const [followers, servers] = await Promise.all([
    db
      .selectFrom('fediverse_followers')
      .select(['handle', 'server', 'actor_uri', 'created_at'])
      .orderBy('id', 'desc')
      .limit(limit)
      .execute(),
    db
      .selectFrom('fediverse_followers')
      .select(['server', (eb) => eb.fn.countAll<string>().as('followers')])
      .groupBy('server')
      .orderBy('followers', 'desc')
      .limit(100)
      .execute(),
  ]);
  return { followers, servers: servers.map((s) => ({ server: s.server, followers: Number(s.followers) })) };
}

/** A host or any parent domain of it is blocked ("example.social" blocks "eu.example.social"). */
export async function isBlockedHost(db: Kysely<Database>, host: string): Promise<boolean> {
  const name = host.toLowerCase().replace(/:\d+$/, '');
  const parts = name.split('.');
  const candidates = parts.map((_, i) => parts.slice(i).join('.')).filter((d) => d.length > 0);
  candidates.push(host.toLowerCase());
  const row = await db.selectFrom('fediverse_domain_blocks').select('domain').where('domain', 'in', candidates).executeTakeFirst();
  return row !== undefined;
}

export function normaliseDomain(raw: string): string | null {
  const value = raw
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '');
  return /^[a-z0-9.-]+(:\d{1,5})?$/.test(value) && value.includes('.')
    ? value
    : /^[a-z0-9-]+:\d{1,5}$|^localhost(:\d+)?$|^\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(value)
      ? value
      : null;
}

/** Blocking a server also drops its followers: nothing more goes there. */
export async function blockDomain(db: Kysely<Database>, domain: string, reason: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('fediverse_domain_blocks')
      .values({ domain, reason })
      .onConflict((oc) => oc.column('domain').doUpdateSet({ reason }))
      .execute();
    await trx
      .deleteFrom('fediverse_followers')
      .where((eb) => eb.or([eb('server', '=', domain), eb('server', 'like', `%.${domain}`)]))
      .execute();
  });
}

export async function unblockDomain(db: Kysely<Database>, domain: string): Promise<boolean> {
  const r = await db.deleteFrom('fediverse_domain_blocks').where('domain', '=', domain).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listDomainBlocks(db: Kysely<Database>) {
  return db.selectFrom('fediverse_domain_blocks').selectAll().orderBy('domain').execute();
}
