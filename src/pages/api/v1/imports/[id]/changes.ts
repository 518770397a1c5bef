import { ValidationError } from '../../../../../lib/errors.ts';
import { listChanges } from '../../../../../domain/imports/pipeline.ts';
import { importChangeJson } from '../../../../../web/api/import.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';

/** GET /api/v1/imports/:id/changes?after=&limit=: existing members the import changes (or will), by address. */
export const GET = apiRoute(async ({ url, params }, { db }) => {
  const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ValidationError('limit must be a whole number from 1 to 1000.', 'invalid_limit');
  const page = await listChanges(db, params.id!, { after: url.searchParams.get('after'), limit });
  return json({ changes: page.changes.map(importChangeJson), next: page.next });
});
