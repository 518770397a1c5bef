import type { APIRoute } from 'astro';
import { memberEngagement, parseId } from '../../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../../web/http.ts';

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ engagement: await memberEngagement(locals.runtime.db, parseId(params.id, 'member id')) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
