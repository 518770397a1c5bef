import { countMembers } from '../../../../domain/members/list.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';
import { parseMemberFilter } from '../../../../web/member-filter.ts';

/** GET /api/v1/members/count?(the list's filters) → {"count": n} */
export const GET = apiRoute(async ({ url }, { db }) => json({ count: await countMembers(db, parseMemberFilter(url.searchParams)) }));
