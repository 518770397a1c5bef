import { replyToReceived } from '../../../../domain/fediverse/social.ts';
import { fediverseDeps, replyBody } from '../../../../web/api/fediverse.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** A reply from the site's actor to something that arrived (in_reply_to: its id). */
export const POST = apiRoute(async ({ request }, deps) => {
  const body = await readJson(request, replyBody);
  return json({ reply: await replyToReceived(fediverseDeps(deps), body.in_reply_to, body.content) }, 202);
});
