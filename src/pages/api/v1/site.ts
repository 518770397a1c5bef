import { getSiteSettings, saveSiteSettings } from '../../../domain/site/settings.ts';
import { apiRoute } from '../../../web/api/route.ts';
import { patchSiteBody, siteChange, siteJson } from '../../../web/api/site.ts';
import { json, readJson } from '../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) => json({ site: siteJson(await getSiteSettings(db)) }));

/** A partial update: fields left out keep their value (DESIGN.md, `PATCH /api/v1/site`). */
export const PATCH = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, patchSiteBody);
  return json({ site: siteJson(await saveSiteSettings(db, siteChange(body))) });
});
