import type { APIRoute } from 'astro';
import { createMemberBody } from '../../../../domain/members/api-schemas.ts';
import { listMembers, memberViews, parseMemberFilter } from '../../../../domain/members/list.ts';
import { createMember } from '../../../../domain/members/manage.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ url, locals }) => {
  try {
    const filter = parseMemberFilter(url.searchParams);
    const limit = Number(url.searchParams.get('limit') ?? 50);
    return json(await listMembers(locals.runtime.db, filter, { limit: Number.isFinite(limit) ? limit : 50, after: url.searchParams.get('after') ?? undefined }));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const POST: APIRoute = async ({ request, locals }) => {
  try {
    const body = await readJson(request, createMemberBody);
    const id = await createMember(locals.runtime.db, body);
    const [member] = await memberViews(locals.runtime.db, [id]);
    return json({ member }, 201);
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
