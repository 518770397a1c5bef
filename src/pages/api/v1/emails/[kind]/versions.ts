import { kindOf, languageOrSite, listVersions } from '../../../../../domain/emails/emails.ts';
import { versionsJson } from '../../../../../web/api/email.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';

/** GET /api/v1/emails/:kind/versions?language=: the versions, newest first. */
export const GET = apiRoute(async ({ params, url }, { db }) => {
  const kind = kindOf(params.kind);
  const language = await languageOrSite(db, url.searchParams.get('language'));
  return json(versionsJson(await listVersions(db, kind, language)));
});
