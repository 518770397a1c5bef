import type { APIRoute } from 'astro';
import { statsSources } from '../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ locals }) => {
  try {
    return json(await statsSources(locals.runtime.db));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
