import type { APIRoute } from 'astro';
import { NotFoundError } from '../../../../lib/errors.ts';
import { patchMemberBody } from '../../../../domain/members/api-schemas.ts';
import { memberViews } from '../../../../domain/members/list.ts';
import { deleteMember, updateMember } from '../../../../domain/members/manage.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';

async function view(locals: App.Locals, id: string) {
  const [member] = await memberViews(locals.runtime.db, [id]);
  if (!member) throw new NotFoundError('No such member.', 'member_not_found');
  return member;
}

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ member: await view(locals, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const PATCH: APIRoute = async ({ params, request, locals }) => {
  try {
    const body = await readJson(request, patchMemberBody);
    const { comp_until, ...rest } = body;
    await updateMember(locals.runtime.db, params.id!, { ...rest, compUntil: comp_until === undefined ? undefined : comp_until === null ? null : new Date(comp_until) });
    return json({ member: await view(locals, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const DELETE: APIRoute = async ({ params, locals }) => {
  try {
    await deleteMember(locals.runtime.db, params.id!);
    return new Response(null, { status: 204 });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
