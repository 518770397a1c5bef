import { createFederation, getRemoteDocument, preloadedContexts, signRequest, type Context, type Federation } from '@fedify/fedify';
import {
  Accept,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Image,
  Like,
  Note,
  Organization,
  PropertyValue,
  Undo,
  Update,
  Article,
} from '@fedify/vocab';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { KyselyKvStore } from '../../lib/fedify-kv.ts';
import { getSiteSettings } from '../site/settings.ts';
import { guardedDocumentLoader, guardedGet } from './loader.ts';
import { siteKeyPairs } from './keys.ts';
import { articleFrom, SITE_ACTOR } from './objects.ts';
import { countFollowers, listFollowerPage } from './followers.ts';
import { countLiveArticles, liveArticlePage } from './sync.ts';
import * as inbox from './inbox.ts';
import packageJson from '../../../package.json' with { type: 'json' };
import { contextLoader } from './context-loader.ts';

/**
 * The site on the open social web: one Fedify Federation per process, serving WebFinger,
 * NodeInfo, the site's actor (an Organization named after the brand), its outbox and followers,
 * its inbox and the shared inbox, and the posts as Articles. Fedify verifies every inbound
 * activity's signature (draft-cavage HTTP Signatures and RFC 9421, Object Integrity Proofs)
 * against its actor's key, fetched through Hearth's SSRF guard (loader.ts) and cached in
 * Postgres (lib/fedify-kv.ts); unsigned or forged posts are answered 401 before a listener runs.
 *
 * Nothing is sent through Fedify's own queue: outbound activities go through graphile-worker
 * (delivery.ts) so that they share Hearth's job table, job keys and retries.
 */
export interface FediverseContext {
  db: Kysely<Database>;
  siteUrl: string;
  allowPrivate: boolean;
}

export const PATHS = {
  actor: '/ap/actor/{identifier}',
  inbox: '/ap/actor/{identifier}/inbox',
  sharedInbox: '/ap/inbox',
  outbox: '/ap/actor/{identifier}/outbox',
  followers: '/ap/actor/{identifier}/followers',
  article: '/ap/posts/{id}',
  note: '/ap/notes/{id}',
  nodeinfo: '/nodeinfo/2.1',
} as const;

/** Does this request belong to the federation (Fedify answers it)? */
export function isFederationPath(pathname: string): boolean {
  return (
    pathname === '/.well-known/webfinger' ||
    pathname === '/.well-known/nodeinfo' ||
    pathname.startsWith('/nodeinfo/') ||
    pathname.startsWith('/ap/')
  );
}

function build(db: Kysely<Database>, siteUrl: string, allowPrivate: boolean): Federation<FediverseContext> {
  const federation = createFederation<FediverseContext>({
    kv: new KyselyKvStore(db),
    origin: siteUrl,
    // Every remote fetch through the guard (loopback only with FEDERATION_ALLOW_PRIVATE=1).
    documentLoaderFactory: () => guardedDocumentLoader(allowPrivate),
    contextLoaderFactory: () => {
      const remote = guardedDocumentLoader(allowPrivate);
      return async (url, options) => (url in preloadedContexts ? contextLoader(url, options) : remote(url, options));
    },
    authenticatedDocumentLoaderFactory: (identity) => {
      const plain = guardedDocumentLoader(allowPrivate);
      return async (url, options) => {
        if (url in preloadedContexts) return plain(url, options);
        // A signed GET, for servers in "authorized fetch" mode.
        const signed = await signRequest(
          new Request(url, { headers: { accept: 'application/activity+json' } }),
          identity.privateKey,
          identity.keyId,
        );
        const headers: Record<string, string> = {};
        signed.headers.forEach((v, k) => (headers[k] = v));
        const response = await guardedGet(url, allowPrivate, headers);
        return getRemoteDocument(url, response, plain);
      };
    },
    // (Fedify's own allowPrivateAddress and userAgent only apply to its default loaders: ours set both.)
    // No queue: Hearth sends nothing through Fedify (see delivery.ts); inbox work is small and done inline.
  });

  federation
    .setActorDispatcher(PATHS.actor, async (ctx, identifier) => {
      if (identifier !== SITE_ACTOR) return null;
      const site = await getSiteSettings(ctx.data.db);
      if (!site.fediverse.enabled) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      const logo = site.logo ? new URL(site.logo, siteUrl) : null;
      return new Organization({
        id: ctx.getActorUri(identifier),
        preferredUsername: site.fediverse.handle,
        name: site.title,
        summary: site.description,
        url: new URL(`${siteUrl}/join/fediverse`),
        icon: logo ? new Image({ url: logo }) : null,
        image: logo ? new Image({ url: logo }) : null,
        inbox: ctx.getInboxUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        followers: ctx.getFollowersUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        manuallyApprovesFollowers: false,
        discoverable: true,
        attachments: [
          new PropertyValue({
            name: 'Newsletter',
            value: `<a href="${siteUrl}/join/fediverse" rel="me">${new URL(siteUrl).host}/join/fediverse</a>`,
          }),
        ],
        publicKey: keys[0]?.cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher(async (ctx, identifier) => (identifier === SITE_ACTOR ? siteKeyPairs(ctx.data.db) : []))
    .mapHandle(async (ctx, username) => {
      const site = await getSiteSettings(ctx.data.db);
      return site.fediverse.enabled && username.toLowerCase() === site.fediverse.handle ? SITE_ACTOR : null;
    });

  federation
    .setOutboxDispatcher(PATHS.outbox, async (ctx, identifier, cursor) => {
      if (identifier !== SITE_ACTOR || !(await enabled(ctx))) return null;
      const page = await liveArticlePage(ctx.data.db, siteUrl, cursor ?? '');
      return {
        items: page.items.map(
          (parts) =>
            new Create({
              id: new URL(`${parts.id}#create`),
              actor: ctx.getActorUri(SITE_ACTOR),
              to: new URL('https://www.w3.org/ns/activitystreams#Public'),
              object: articleFrom(siteUrl, parts),
            }),
        ),
        nextCursor: page.next,
      };
    })
    // Paged: the collection names its first page; off, there is no first page (404).
    .setFirstCursor(async (ctx, identifier) => (identifier === SITE_ACTOR && (await enabled(ctx)) ? '' : null))
    .setCounter(async (ctx) => countLiveArticles(ctx.data.db));

  federation
    .setFollowersDispatcher(PATHS.followers, async (ctx, identifier, cursor) => {
      if (identifier !== SITE_ACTOR || !(await enabled(ctx))) return null;
      const page = await listFollowerPage(ctx.data.db, cursor);
      return {
        items: page.items.map((f) => ({
          id: new URL(f.actor_uri),
          inboxId: new URL(f.inbox),
          endpoints: f.shared_inbox ? { sharedInbox: new URL(f.shared_inbox) } : null,
        })),
        nextCursor: page.next,
      };
    })
    .setFirstCursor(() => '')
    .setCounter(async (ctx) => countFollowers(ctx.data.db));

  federation.setObjectDispatcher(Article, PATHS.article, async (ctx, { id }) => {
    if (!(await enabled(ctx))) return null;
    return inbox.articleForFetch(ctx.data.db, siteUrl, id);
  });
  federation.setObjectDispatcher(Note, PATHS.note, async (ctx, { id }) => {
    if (!(await enabled(ctx))) return null;
    return inbox.noteForFetch(ctx.data.db, siteUrl, id);
  });

  federation.setNodeInfoDispatcher(PATHS.nodeinfo, async (ctx) => {
    const [followers, posts] = await Promise.all([countFollowers(ctx.data.db), countLiveArticles(ctx.data.db)]);
    return {
      software: { name: 'hearth', version: packageJson.version, homepage: new URL(siteUrl) },
      protocols: ['activitypub'],
      openRegistrations: false,
      usage: { users: { total: 1, activeMonth: 1, activeHalfyear: 1 }, localPosts: posts, localComments: 0 },
      metadata: { followers },
    };
  });

  federation
    .setInboxListeners(PATHS.inbox, PATHS.sharedInbox)
    .on(Follow, inbox.onFollow)
    .on(Undo, inbox.onUndo)
    .on(Accept, inbox.onAccept)
    .on(Create, inbox.onCreate)
    .on(Update, inbox.onUpdate)
    .on(Delete, inbox.onDelete)
    .on(Like, inbox.onReaction)
    .on(Announce, inbox.onReaction);

  return federation;
}

async function enabled(ctx: Context<FediverseContext>): Promise<boolean> {
  return (await getSiteSettings(ctx.data.db)).fediverse.enabled;
}

const KEY = Symbol.for('hearth.federation');
type Holder = { [KEY]?: { federation: Federation<FediverseContext>; siteUrl: string; db: Kysely<Database> } };

/** The process's Federation (one per database and address: the tests start several sites in one process). */
export function getFederation(db: Kysely<Database>, siteUrl: string, allowPrivate: boolean): Federation<FediverseContext> {
  const holder = globalThis as Holder;
  const hit = holder[KEY];
  if (hit && hit.db === db && hit.siteUrl === siteUrl) return hit.federation;
  const federation = build(db, siteUrl, allowPrivate);
  holder[KEY] = { federation, siteUrl, db };
  return federation;
}

/** Answers a federation request (WebFinger, NodeInfo, actor, inbox, outbox, followers, objects). */
export async function handleFederation(request: Request, deps: FediverseContext, fallback: () => Promise<Response>): Promise<Response> {
  const federation = getFederation(deps.db, deps.siteUrl, deps.allowPrivate);
  return federation.fetch(request, {
    contextData: deps,
    onNotFound: fallback,
    onNotAcceptable: async () =>
      new Response('This address serves ActivityPub documents: ask for application/activity+json.', {
        status: 406,
        headers: { 'content-type': 'text/plain; charset=utf-8', vary: 'Accept' },
      }),
  });
}

/** A Context outside a request (the worker): for keys and URIs. */
export function federationContext(deps: FediverseContext) {
  return getFederation(deps.db, deps.siteUrl, deps.allowPrivate).createContext(new URL(deps.siteUrl), deps);
}
