import { randomUUID } from 'node:crypto';
import { Create, Follow, Note, PUBLIC_COLLECTION, isActor, type Actor } from '@fedify/vocab';
import { Temporal } from '@js-temporal/polyfill';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { renderComment } from '../community/markdown.ts';
import { validCommentBody } from '../community/markdown.ts';
import { contextLoader } from './context-loader.ts';
import { queueDeliveries } from './delivery.ts';
import { federationContext, type FediverseContext } from './federation.ts';
import { isBlockedHost } from './followers.ts';
import { guardedGet } from './loader.ts';
import { actorId, answerNote, followersId, SITE_ACTOR } from './objects.ts';
import { getSiteSettings } from '../site/settings.ts';

/**
 * The site's actor acting on its own: following an account (to read it in the admin), replying
 * to what arrived, and sending staff answers to fediverse comments back as replies. Each sends
 * through the delivery queue.
 */
async function requireEnabled(db: Kysely<Database>): Promise<void> {
  if (!(await getSiteSettings(db)).fediverse.enabled)
    throw new ValidationError('Turn the fediverse on first (settings: fediverse.enabled).', 'fediverse_off');
}

/** `user@host`, `@user@host` or an actor URL → the actor, fetched through the SSRF guard. */
export async function resolveAccount(deps: FediverseContext, account: string): Promise<Actor> {
  const ctx = federationContext(deps);
  let actorUrl: string;
  const acct = /^@?([^@\s/]+)@([^@\s/]+)$/.exec(account.trim());
  if (acct) {
    const [, user, host] = acct;
    const scheme = deps.allowPrivate ? 'http' : 'https';
    const res = await guardedGet(
      `${scheme}://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${user}@${host}`)}`,
      deps.allowPrivate,
      {
        accept: 'application/jrd+json',
      },
    ).catch(() => undefined);
    const jrd = res?.ok
      ? ((await res.json().catch(() => null)) as { links?: Array<{ rel?: string; type?: string; href?: string }> } | null)
      : null;
    const self = jrd?.links?.find((l) => l.rel === 'self' && /activity\+json|ld\+json/.test(l.type ?? ''))?.href;
    if (!self) throw new NotFoundError(`No fediverse account ${account} was found.`, 'account_not_found');
    actorUrl = self;
  } else if (/^https?:\/\//.test(account.trim())) {
    actorUrl = account.trim();
  } else {
    throw new ValidationError('Name the account as user@server or by its address.', 'invalid_account');
  }
  const actor = await ctx.lookupObject(actorUrl).catch(() => null);
  if (!actor || !isActor(actor) || !actor.id || !actor.inboxId)
    throw new NotFoundError(`No fediverse account ${account} was found.`, 'account_not_found');
  if (await isBlockedHost(deps.db, actor.id.host)) throw new ValidationError('That server is blocked.', 'server_blocked');
  return actor;
}

export async function followAccount(deps: FediverseContext, account: string): Promise<{ actor: string; handle: string }> {
  await requireEnabled(deps.db);
  const actor = await resolveAccount(deps, account);
  const handle = `@${actor.preferredUsername ?? '?'}@${actor.id!.host}`;
  const follow = new Follow({
    id: new URL(`${actorId(deps.siteUrl).href}#follows/${randomUUID()}`),
    actor: actorId(deps.siteUrl),
    object: actor.id,
  });
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('fediverse_following')
      .values({ actor_uri: actor.id!.href, handle, inbox: actor.inboxId!.href, follow_id: follow.id!.href })
      .onConflict((oc) => oc.column('actor_uri').doUpdateSet({ inbox: actor.inboxId!.href, follow_id: follow.id!.href }))
      .execute();
    await queueDeliveries(trx, follow.id!.href, (await follow.toJsonLd({ contextLoader })) as Record<string, unknown>, [
      actor.inboxId!.href,
    ]);
  });
  return { actor: actor.id!.href, handle };
}

export async function listReceived(db: Kysely<Database>, limit = 100) {
  return db.selectFrom('fediverse_received').selectAll().orderBy('id', 'desc').limit(limit).execute();
}

export async function listFollowing(db: Kysely<Database>) {
  return db.selectFrom('fediverse_following').select(['handle', 'actor_uri', 'accepted_at', 'created_at']).orderBy('id', 'desc').execute();
}

/** Staff reply, from the site's actor, to something that arrived: a public Note to its author. */
export async function replyToReceived(deps: FediverseContext, inReplyTo: string, text: string): Promise<{ id: string }> {
  await requireEnabled(deps.db);
  const body = validCommentBody(text);
  const target = await deps.db.selectFrom('fediverse_received').selectAll().where('object_id', '=', inReplyTo).executeTakeFirst();
  if (!target) throw new NotFoundError('Nothing with that id arrived here.', 'not_received');
  const actor = await resolveAccount(deps, target.actor_uri);
  const own = actorId(deps.siteUrl);
  return deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('fediverse_received')
      .values({
        object_id: `pending:${randomUUID()}`,
        actor_uri: own.href,
        handle: `@${(await getSiteSettings(trx)).fediverse.handle}@${new URL(deps.siteUrl).host}`,
        type: 'Note',
        in_reply_to: target.object_id,
        content: body,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const id = new URL(`${deps.siteUrl}/ap/replies/${row.id}`);
    await trx.updateTable('fediverse_received').set({ object_id: id.href }).where('id', '=', row.id).execute();
    const note = new Note({
      id,
      attribution: own,
      to: PUBLIC_COLLECTION,
      ccs: [actor.id!, followersId(deps.siteUrl)],
      replyTarget: new URL(target.object_id),
      content: renderComment(body),
      mediaType: 'text/html',
      published: Temporal.Now.instant(),
    });
    const create = new Create({ id: new URL(`${id.href}#create`), actor: own, to: PUBLIC_COLLECTION, ccs: [actor.id!], object: note });
    await queueDeliveries(trx, create.id!.href, (await create.toJsonLd({ contextLoader })) as Record<string, unknown>, [
      actor.endpoints?.sharedInbox?.href ?? actor.inboxId!.href,
    ]);
    return { id: id.href };
  });
}

/** The job: a staff answer to a fediverse comment, sent to the comment's author. */
export async function sendAnswer(deps: FediverseContext, commentId: string): Promise<void> {
  const { db, siteUrl } = deps;
  if (!(await getSiteSettings(db)).fediverse.enabled) return;
  const row = await db
    .selectFrom('comments as c')
    .innerJoin('comments as r', 'r.id', 'c.reply_to_id')
    .innerJoin('posts as p', 'p.id', 'c.post_id')
    .select(['c.id', 'c.body', 'c.created_at', 'c.ap_id', 'r.remote_object_id', 'r.remote_actor', 'p.slug', 'p.visibility'])
    .where('c.id', '=', commentId)
    .where('c.status', '=', 'published')
    .where('c.staff_user_id', 'is not', null)
    .where('r.remote_actor', 'is not', null)
    .executeTakeFirst();
  if (!row || row.visibility !== 'public' || row.ap_id) return;
  if (await isBlockedHost(db, new URL(row.remote_actor!).host)) return;
  const actor = await resolveAccount(deps, row.remote_actor!);
  const note = answerNote(
    siteUrl,
    { id: row.id, body: row.body, createdAt: row.created_at },
    { objectId: row.remote_object_id!, actor: row.remote_actor! },
    `${siteUrl}/posts/${encodeURIComponent(row.slug)}`,
  );
  const create = new Create({
    id: new URL(`${note.id!.href}#create`),
    actor: actorId(siteUrl),
    to: PUBLIC_COLLECTION,
    ccs: [actor.id!],
    object: note,
  });
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('comments').set({ ap_id: note.id!.href }).where('id', '=', row.id).execute();
    await queueDeliveries(trx, create.id!.href, (await create.toJsonLd({ contextLoader })) as Record<string, unknown>, [
      actor.endpoints?.sharedInbox?.href ?? actor.inboxId!.href,
    ]);
  });
}

export { SITE_ACTOR };
