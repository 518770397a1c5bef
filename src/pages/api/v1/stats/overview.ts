import type { APIRoute } from 'astro';
import { parseOverviewParams, statsOverview } from '../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ url, locals }) => {
  try {
    return json(await statsOverview(locals.runtime.db, parseOverviewParams(url.searchParams)));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
