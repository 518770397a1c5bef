import { getAutomaticEmail, kindOf, languageOrSite, saveAutomaticEmail } from '../../../../domain/emails/emails.ts';
import { automaticEmailJson, putEmailBody } from '../../../../web/api/email.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/emails/:kind?language=: what goes out now, the default, and the variables. */
export const GET = apiRoute(async ({ params, url }, { db }) => {
  const kind = kindOf(params.kind);
  const language = await languageOrSite(db, url.searchParams.get('language'));
  return json({ email: automaticEmailJson(await getAutomaticEmail(db, kind, language)) });
});

/** PUT /api/v1/emails/:kind: a new live version; a template that does not check is a 400 and changes nothing. */
export const PUT = apiRoute(async ({ params, request }, { db, staff }) => {
  const kind = kindOf(params.kind);
  const body = await readJson(request, putEmailBody);
  const language = await languageOrSite(db, body.language);
  const saved = await saveAutomaticEmail(db, kind, language, body, staff);
  return json({ email: automaticEmailJson(saved) });
});
