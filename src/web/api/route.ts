import type { APIContext, APIRoute } from 'astro';
import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../../db/types.ts';
import type { SessionStaffUser } from '../../domain/staff/sessions.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { jsonErrorFrom } from '../http.ts';

/**
 * An API handler is `(request, deps) → Response`: it reads nothing from Astro, so a test calls it
 * in process with a real Request and a real database, no server. `apiRoute()` adapts it to an
 * Astro route and is the one place a thrown domain error becomes its status and
 * `{"error":{"code","message"}}` (unexpected errors: a logged 500 with no detail).
 *
 * The guard (who may call what) is not here: src/middleware.ts and src/web/guard.ts run before
 * any handler and put the staff user in `deps.staff`.
 */
export interface ApiInput {
  request: Request;
  url: URL;
  /** The route's path parameters (`[id]` → `params.id`). */
  params: Record<string, string | undefined>;
}

export interface ApiDeps {
  db: Kysely<Database>;
  siteUrl: string;
  /** Undefined when payments are not configured. */
  stripe: Stripe | undefined;
  /** The staff user the bearer token belongs to (always set behind the guard). */
  staff: SessionStaffUser;
  /** WEBHOOKS_ALLOW_PRIVATE: webhook endpoints may be on loopback/private addresses. */
  webhooksAllowPrivate?: boolean;
  /** APP_SECRET and MAIL_FROM with SITE_URL (previews render an email as it would be posted). */
  keys?: SiteKeys;
  /** SEND_RATE_LIMIT: the provider's requests per second (a resumed automation spreads over it). */
  sendRateLimit?: number;
  /** FEDERATION_ALLOW_PRIVATE: fediverse peers may be on loopback (tests). */
  federationAllowPrivate?: boolean;
}

export type ApiHandler = (input: ApiInput, deps: ApiDeps) => Response | Promise<Response>;

/** A handler with its errors mapped, callable in process: `await GET.handle({ request, url, params }, deps)`. */
export type ApiRoute = APIRoute & {
  handle(input: ApiInput | Request, deps: ApiDeps, params?: Record<string, string | undefined>): Promise<Response>;
};

export function apiRoute(handler: ApiHandler): ApiRoute {
  const handle = async (input: ApiInput | Request, deps: ApiDeps, params: Record<string, string | undefined> = {}) => {
    const call = input instanceof Request ? { request: input, url: new URL(input.url), params } : input;
    try {
      return await handler(call, deps);
    } catch (err) {
      return jsonErrorFrom(err);
    }
  };
  const route = ((context: APIContext) =>
    handle({ request: context.request, url: context.url, params: context.params }, depsFrom(context.locals))) as ApiRoute;
  route.handle = handle;
  return route;
}

function depsFrom(locals: App.Locals): ApiDeps {
  const { db, config, stripe } = locals.runtime;
  // The guard refuses every /api/v1 call without a valid staff token before a handler runs.
  if (!locals.staff) throw new Error('API route reached without a staff user: is it listed in src/web/guard.ts?');
  return {
    db,
    siteUrl: config.siteUrl,
    stripe,
    staff: locals.staff,
    webhooksAllowPrivate: config.webhooksAllowPrivate,
    keys: locals.runtime.keys,
    sendRateLimit: config.sendRateLimit,
    federationAllowPrivate: config.federationAllowPrivate,
  };
}

/** `?limit=` as a number, or undefined when absent (the domain checks its range). */
export function limitParam(url: URL): number | undefined {
  const raw = url.searchParams.get('limit');
  return raw === null ? undefined : Number(raw);
}
