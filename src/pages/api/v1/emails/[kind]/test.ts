import { kindOf, languageOrSite, sendTestAutomaticEmail } from '../../../../../domain/emails/emails.ts';
import { languageBody } from '../../../../../web/api/email.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/emails/:kind/test `{"language"?}`: the live text for a sample member, to the token owner's own address (10 an hour: 429 beyond). */
export const POST = apiRoute(async ({ params, request }, { db, staff, keys }) => {
  const kind = kindOf(params.kind);
  const body = await readJson(request, languageBody);
  const language = await languageOrSite(db, body.language);
  await sendTestAutomaticEmail(db, keys!, kind, language, staff);
  return json({ queued: true, to: staff.email }, 202);
});
