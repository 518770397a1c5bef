import { kindOf, languageOrSite, resetAutomaticEmail } from '../../../../../domain/emails/emails.ts';
import { automaticEmailJson, languageBody } from '../../../../../web/api/email.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/emails/:kind/reset `{"language"?}`: the default goes out again (kept in the versions). */
export const POST = apiRoute(async ({ params, request }, { db, staff }) => {
  const kind = kindOf(params.kind);
  const body = await readJson(request, languageBody);
  const language = await languageOrSite(db, body.language);
  return json({ email: automaticEmailJson(await resetAutomaticEmail(db, kind, language, staff)) });
});
