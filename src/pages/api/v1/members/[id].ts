import { getMember } from '../../../../domain/members/list.ts';
import { deleteMember, updateMember } from '../../../../domain/members/manage.ts';
import { memberJson, patchMemberBody } from '../../../../web/api/member.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async ({ params }, { db }) => json({ member: memberJson(await getMember(db, params.id!)) }));

export const PATCH = apiRoute(async ({ params, request }, { db }) => {
  const { comp_until, ...rest } = await readJson(request, patchMemberBody);
  await updateMember(db, params.id!, {
    ...rest,
    compUntil: comp_until === undefined ? undefined : comp_until === null ? null : new Date(comp_until),
  });
  return json({ member: memberJson(await getMember(db, params.id!)) });
});

export const DELETE = apiRoute(async ({ params }, { db }) => {
  await deleteMember(db, params.id!);
  return new Response(null, { status: 204 });
});
