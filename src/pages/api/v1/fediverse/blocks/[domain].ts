import { unblockDomain } from '../../../../../domain/fediverse/followers.ts';
import { NotFoundError } from '../../../../../lib/errors.ts';
import { apiRoute } from '../../../../../web/api/route.ts';

export const DELETE = apiRoute(async ({ params }, { db }) => {
  if (!(await unblockDomain(db, String(params.domain ?? '').toLowerCase())))
    throw new NotFoundError('That server is not blocked.', 'block_not_found');
  return new Response(null, { status: 204 });
});
