import type { APIRoute } from 'astro';
import { getSend, sendReport } from '../../../../domain/sending/sends.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ params, url, locals }) => {
  try {
    if (url.searchParams.get('report') === '1') return json(await sendReport(locals.runtime.db, params.id!));
    return json({ send: await getSend(locals.runtime.db, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
