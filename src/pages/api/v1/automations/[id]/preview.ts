import { previewNext } from '../../../../../domain/automations/preview.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';
import { ValidationError } from '../../../../../lib/errors.ts';

/** GET /api/v1/automations/:id/preview?member=<id>: what that member gets next, and when. Nothing is sent. */
export const GET = apiRoute(async ({ params, url }, { db, keys }) => {
  const member = url.searchParams.get('member');
  if (!member) throw new ValidationError('Name the member: ?member=<id>.', 'invalid_query');
  const next = await previewNext(db, keys!, params.id!, member);
  return json({ next: { ...next, at: next.at?.toISOString() ?? null } });
});
