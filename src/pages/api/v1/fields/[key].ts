import { archiveField, getField, updateField } from '../../../../domain/members/fields.ts';
import { fieldJson, fieldPatch, patchFieldBody } from '../../../../web/api/field.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async ({ params }, { db }) => json({ field: fieldJson(await getField(db, params.key!)) }));

export const PATCH = apiRoute(async ({ params, request }, { db }) => {
  const body = await readJson(request, patchFieldBody);
  return json({ field: fieldJson(await updateField(db, params.key!, fieldPatch(body))) });
});

/** Archives: the values stay on members, the field leaves forms, filters' choices and exports. */
export const DELETE = apiRoute(async ({ params }, { db }) => json({ field: fieldJson(await archiveField(db, params.key!)) }));
