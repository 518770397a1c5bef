import type { APIRoute } from 'astro';
import { followRecommendation } from '../../../domain/recommendations/recommendations.ts';
import { NotFoundError } from '../../../lib/errors.ts';

/** A reader follows a recommendation: counted, then on to the site with ref/utm tags. */
export const GET: APIRoute = async ({ params, locals }) => {
  try {
    const to = await followRecommendation(locals.runtime.db, String(params.id), locals.runtime.config.siteUrl);
    return new Response(null, { status: 303, headers: { location: to, 'cache-control': 'no-store' } });
  } catch (err) {
    if (err instanceof NotFoundError) return new Response('No such recommendation.', { status: 404 });
    throw err;
  }
};
