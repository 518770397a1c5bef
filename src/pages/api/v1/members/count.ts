import type { APIRoute } from 'astro';
import { countMembers, parseMemberFilter } from '../../../../domain/members/list.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ url, locals }) => {
  try {
    return json({ count: await countMembers(locals.runtime.db, parseMemberFilter(url.searchParams)) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
