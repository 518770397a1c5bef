import { createField, listFields } from '../../../../domain/members/fields.ts';
import { fieldJson, newFieldBody } from '../../../../web/api/field.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/fields?archived=1: custom member fields in their order. */
export const GET = apiRoute(async ({ url }, { db }) => {
  const fields = await listFields(db, { archived: url.searchParams.get('archived') === '1' });
  return json({ fields: fields.map(fieldJson) });
});

export const POST = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, newFieldBody);
  const field = await createField(db, {
    key: body.key,
    label: body.label,
    type: body.type,
    options: body.options,
    memberEditable: body.member_editable,
    sortOrder: body.order,
  });
  return json({ field: fieldJson(field) }, 201);
});
