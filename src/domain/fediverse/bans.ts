import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { parseOutboundUrl, UnsafeUrlError } from '../../lib/outbound-http.ts';
import type { FediverseContext } from './federation.ts';
import { resolveAccount } from './social.ts';

/**
 * Fediverse accounts banned from the site, one by one (whole servers are blocked in
 * followers.ts). A banned account's replies, likes, boosts and follows are refused (inbox.ts
 * writes nothing for them), it stops being a follower, and its replies waiting for review leave
 * the queue. Its published comments stay until staff hide them, as with a member's ban.
 */
export interface ActorBan {
  id: string;
  actor: string;
  handle: string;
  reason: string;
  createdAt: Date;
}

export async function isBannedActor(db: Kysely<Database>, actorUri: string): Promise<boolean> {
  const row = await db.selectFrom('fediverse_actor_bans').select('id').where('actor_uri', '=', actorUri).executeTakeFirst();
  return row !== undefined;
}

/** `@user@server` (as comments and followers show it) → its actor, when the site has met it. */
async function knownActor(db: Kysely<Database>, handle: string): Promise<string | null> {
  const [comment, follower, received] = await Promise.all([
    db.selectFrom('comments').select('remote_actor as actor').where('remote_handle', '=', handle).limit(1).executeTakeFirst(),
    db.selectFrom('fediverse_followers').select('actor_uri as actor').where('handle', '=', handle).limit(1).executeTakeFirst(),
    db.selectFrom('fediverse_received').select('actor_uri as actor').where('handle', '=', handle).limit(1).executeTakeFirst(),
  ]);
  return comment?.actor ?? follower?.actor ?? received?.actor ?? null;
}

async function knownHandle(db: Kysely<Database>, actorUri: string): Promise<string | null> {
  const [comment, follower] = await Promise.all([
    db.selectFrom('comments').select('remote_handle as handle').where('remote_actor', '=', actorUri).limit(1).executeTakeFirst(),
    db.selectFrom('fediverse_followers').select('handle').where('actor_uri', '=', actorUri).limit(1).executeTakeFirst(),
  ]);
  return comment?.handle ?? follower?.handle ?? null;
}

/**
 * The account to ban: its actor address as given, or `@user@server`: first among accounts the
 * site has met (no request), else looked up on its server through the SSRF guard (`lookup`).
 */
async function resolveBanTarget(deps: FediverseContext, account: string): Promise<{ actor: string; handle: string }> {
  const value = account.trim();
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = parseOutboundUrl(value);
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw new ValidationError(err.message, 'invalid_account');
      throw err;
    }
    const handle = (await knownHandle(deps.db, url.href)) ?? `@${url.pathname.split('/').filter(Boolean).at(-1) ?? '?'}@${url.host}`;
    return { actor: url.href, handle };
  }
  const m = /^@?([^@\s/]+)@([^@\s/]+)$/.exec(value);
  if (!m) throw new ValidationError('Name the account as @user@server or by its address.', 'invalid_account');
  const handle = `@${m[1]}@${m[2]!.toLowerCase()}`;
  const actor = await knownActor(deps.db, handle);
  if (actor) return { actor, handle };
  const found = await resolveAccount(deps, value);
  return { actor: found.id!.href, handle: `@${found.preferredUsername?.toString() ?? m[1]}@${found.id!.host}` };
}

export async function banActor(
  deps: FediverseContext,
  input: { account: string; reason?: string | undefined; staffUserId: string | null },
): Promise<ActorBan> {
  const reason = (input.reason ?? '').trim().slice(0, 500);
  const target = await resolveBanTarget(deps, input.account);
  return deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('fediverse_actor_bans')
      .values({ actor_uri: target.actor, handle: target.handle, reason, created_by: input.staffUserId })
      .onConflict((oc) => oc.column('actor_uri').doUpdateSet({ reason, handle: target.handle }))
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.deleteFrom('fediverse_followers').where('actor_uri', '=', target.actor).execute();
    await trx
      .updateTable('comments')
      .set({ status: 'hidden' })
      .where('remote_actor', '=', target.actor)
      .where('status', '=', 'held')
      .execute();
    return { id: row.id, actor: row.actor_uri, handle: row.handle, reason: row.reason, createdAt: row.created_at };
  });
}

export async function liftActorBan(db: Kysely<Database>, id: string): Promise<void> {
  const r = isId(id) ? await db.deleteFrom('fediverse_actor_bans').where('id', '=', id).executeTakeFirst() : undefined;
  if (!r || Number(r.numDeletedRows) === 0) throw new NotFoundError('That account is not banned.', 'ban_not_found');
}

export async function listActorBans(db: Kysely<Database>): Promise<ActorBan[]> {
  const rows = await db.selectFrom('fediverse_actor_bans').selectAll().orderBy('id', 'desc').limit(500).execute();
  return rows.map((r) => ({ id: r.id, actor: r.actor_uri, handle: r.handle, reason: r.reason, createdAt: r.created_at }));
}
