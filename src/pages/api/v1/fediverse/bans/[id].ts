import { liftActorBan } from '../../../../../domain/fediverse/bans.ts';
import { apiRoute } from '../../../../../web/api/route.ts';

export const DELETE = apiRoute(async ({ params }, { db }) => {
  await liftActorBan(db, String(params.id ?? ''));
  return new Response(null, { status: 204 });
});
