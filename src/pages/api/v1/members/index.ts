import { getMember, listMembers } from '../../../../domain/members/list.ts';
import { createMember } from '../../../../domain/members/manage.ts';
import { createMemberBody, memberJson } from '../../../../web/api/member.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';
import { parseMemberFilter } from '../../../../web/member-filter.ts';

/** GET /api/v1/members?query=&status=&newsletter=&tier=&label=&platform=&created_from=&created_to=&limit=&after= */
export const GET = apiRoute(async ({ url }, { db }) => {
  const filter = parseMemberFilter(url.searchParams);
  const limit = Number(url.searchParams.get('limit') ?? 50);
  const page = await listMembers(db, filter, {
    limit: Number.isFinite(limit) ? limit : 50,
    after: url.searchParams.get('after') ?? undefined,
  });
  return json({ members: page.members.map(memberJson), next: page.next });
});

export const POST = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, createMemberBody);
  const id = await createMember(db, body);
  return json({ member: memberJson(await getMember(db, id)) }, 201);
});
