import type { APIRoute } from 'astro';
import { getImport, importView } from '../../../../domain/imports/pipeline.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ import: importView(await getImport(locals.runtime.db, params.id!)) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
