import { archiveNewsletter, findNewsletter, unarchiveNewsletter, updateNewsletter } from '../../../../domain/newsletters/newsletters.ts';
import { newsletterChanges, newsletterJson, patchNewsletterBody } from '../../../../web/api/newsletter.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async ({ params }, { db }) => json({ newsletter: newsletterJson(await findNewsletter(db, params.slug!)) }));

/** Fields left out keep their value; `"archived": false` unarchives (before the other changes). */
export const PATCH = apiRoute(async ({ params, request }, { db }) => {
  const body = await readJson(request, patchNewsletterBody);
  if (body.archived === false) await unarchiveNewsletter(db, params.slug!);
  let newsletter = await updateNewsletter(db, params.slug!, newsletterChanges(body));
  if (body.archived === true) newsletter = await archiveNewsletter(db, newsletter.slug);
  return json({ newsletter: newsletterJson(newsletter) });
});

/** Archives: members and sends stay, no new subscribers. Answers the archived newsletter. */
export const DELETE = apiRoute(async ({ params }, { db }) =>
  json({ newsletter: newsletterJson(await archiveNewsletter(db, params.slug!)) }),
);
