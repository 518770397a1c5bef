import type { APIRoute } from 'astro';
import { getSend } from '../../../../domain/sending/sends.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

/** The send page's live figures (staff session; same shape as the API's Send). */
export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ send: await getSend(locals.runtime.db, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
