import type { APIRoute } from 'astro';
import { parseId, statsPost } from '../../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../../web/http.ts';

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json(await statsPost(locals.runtime.db, parseId(params.id, 'post id')));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
