import type { APIRoute } from 'astro';
import { wellKnownRecommendations } from '../../domain/recommendations/recommendations.ts';

/** The newsletters this site recommends, in Ghost's format (README "Recommendations"). */
export const GET: APIRoute = async ({ locals }) =>
  new Response(JSON.stringify(await wellKnownRecommendations(locals.runtime.db)), {
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'access-control-allow-origin': '*',
    },
  });
