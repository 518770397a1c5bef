import type { APIRoute } from 'astro';
import { listNewsletters } from '../../../domain/site/catalog.ts';
import { json } from '../../../web/http.ts';

export const GET: APIRoute = async ({ locals }) => {
  const newsletters = await listNewsletters(locals.runtime.db);
  return json({ newsletters: newsletters.map(({ id, slug, name, default: isDefault }) => ({ id, slug, name, default: isDefault })) });
};
