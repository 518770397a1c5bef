import type { APIRoute } from 'astro';
import { parseCohortParams, statsCohorts } from '../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ url, locals }) => {
  try {
    return json(await statsCohorts(locals.runtime.db, parseCohortParams(url.searchParams)));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
