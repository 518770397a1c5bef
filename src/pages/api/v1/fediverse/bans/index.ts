import { banActor, listActorBans } from '../../../../../domain/fediverse/bans.ts';
import { banBody, banJson, fediverseDeps } from '../../../../../web/api/fediverse.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json, readJson } from '../../../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) => json({ bans: (await listActorBans(db)).map(banJson) }));

/** Bans one fediverse account: its replies, likes and follows are refused; it is no longer a follower. */
export const POST = apiRoute(async ({ request }, deps) => {
  const body = await readJson(request, banBody);
  const ban = await banActor(fediverseDeps(deps), { account: body.account, reason: body.reason, staffUserId: deps.staff.id });
  return json({ ban: banJson(ban) }, 201);
});
