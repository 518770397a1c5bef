import type { APIRoute } from 'astro';
import { parseId, statsSend } from '../../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../../web/http.ts';

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json(await statsSend(locals.runtime.db, parseId(params.id, 'send id')));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
