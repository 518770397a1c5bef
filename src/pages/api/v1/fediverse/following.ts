import { followAccount, listFollowing } from '../../../../domain/fediverse/social.ts';
import { followBody, fediverseDeps } from '../../../../web/api/fediverse.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) =>
  json({ following: (await listFollowing(db)).map((f) => ({ handle: f.handle, actor: f.actor_uri, accepted: f.accepted_at !== null })) }),
);

/** The site's actor follows an account (user@server or its address): what it posts arrives in /received. */
export const POST = apiRoute(async ({ request }, deps) => {
  const body = await readJson(request, followBody);
  return json({ following: await followAccount(fediverseDeps(deps), body.account) }, 202);
});
