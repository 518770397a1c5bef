import type { APIRoute } from 'astro';
import { statsSend } from '../../../../domain/stats/read.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';
import { parseId } from '../../../../web/stats-params.ts';

/** The send report's live figures for its admin page (staff session; the API's StatsSend shape). */
export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json(await statsSend(locals.runtime.db, parseId(params.id, 'send id')));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
