import { createNewsletter, listNewsletters } from '../../../../domain/newsletters/newsletters.ts';
import { newNewsletterBody, newsletterChanges, newsletterJson } from '../../../../web/api/newsletter.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/newsletters[?archived=1]: in their order; archived ones only when asked for. */
export const GET = apiRoute(async ({ url }, { db }) => {
  const archived = url.searchParams.get('archived') === '1';
  return json({ newsletters: (await listNewsletters(db, { archived })).map(newsletterJson) });
});

/** POST /api/v1/newsletters → 201 {"newsletter"}; a bad slug 400, a slug in use 409. */
export const POST = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, newNewsletterBody);
  const created = await createNewsletter(db, { ...newsletterChanges(body), slug: body.slug, name: body.name });
  return json({ newsletter: newsletterJson(created) }, 201);
});
