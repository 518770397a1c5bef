import { startImport } from '../../../../../domain/imports/pipeline.ts';
import { importJson, importOptionsBody, importOptionsFrom } from '../../../../../web/api/import.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/imports/:id/start: starts a previewed (or uploaded) import with these options; 202. */
export const POST = apiRoute(async ({ request, params }, { db }) => {
  const body = await readJson(request, importOptionsBody);
  return json({ import: importJson(await startImport(db, params.id!, importOptionsFrom(body))) }, 202);
});
