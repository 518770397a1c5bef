import { listNewsletters } from '../../../domain/site/catalog.ts';
import { newsletterJson } from '../../../web/api/newsletter.ts';
import { apiRoute } from '../../../web/api/route.ts';
import { json } from '../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) => json({ newsletters: (await listNewsletters(db)).map(newsletterJson) }));
