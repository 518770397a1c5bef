import type { APIContext, APIRoute } from 'astro';
import { handleFederation } from '../domain/fediverse/federation.ts';

/**
 * The federation's routes (WebFinger, NodeInfo, /ap/…): the request goes to Fedify as is, with
 * the database and the site's address as its context data. What Fedify does not serve is the
 * site's own 404.
 */
export const federationRoute: APIRoute = async (context: APIContext) => {
  const { db, config } = context.locals.runtime;
  return handleFederation(
    context.request,
    { db, siteUrl: config.siteUrl, allowPrivate: config.federationAllowPrivate },
    async () => new Response('Not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
  );
};
