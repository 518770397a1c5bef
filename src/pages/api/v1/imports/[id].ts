import { getImport } from '../../../../domain/imports/pipeline.ts';
import { importJson } from '../../../../web/api/import.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

export const GET = apiRoute(async ({ params }, { db }) => json({ import: importJson(await getImport(db, params.id!)) }));
