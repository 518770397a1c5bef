import type { APIRoute } from 'astro';
import { followRecommendation } from '../../../domain/recommendations/recommendations.ts';
import { NotFoundError } from '../../../lib/errors.ts';
import { notFound } from '../../../web/pages.ts';

/** A reader follows a recommendation: counted, then on to the site with ref/utm tags. An unknown one is the site's 404 page, in the reader's language. */
export const GET: APIRoute = async (context) => {
  const { params, locals } = context;
  try {
    const to = await followRecommendation(locals.runtime.db, String(params.id), locals.runtime.config.siteUrl);
    return new Response(null, { status: 303, headers: { location: to, 'cache-control': 'no-store' } });
  } catch (err) {
    if (err instanceof NotFoundError) return notFound(context);
    throw err;
  }
};
