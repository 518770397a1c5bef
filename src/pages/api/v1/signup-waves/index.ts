import { listWaves } from '../../../../domain/members/waves.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

/** Sign-up waves, newest first, with how many sign-ups each holds, released and dropped. */
export const GET = apiRoute(async ({ url }, { db }) =>
  json({ waves: await listWaves(db, { open: url.searchParams.get('open') === 'true' }) }),
);
