import { settleWave } from '../../../../../domain/members/waves.ts';
import { getRuntime } from '../../../../../lib/runtime.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';
import { parseId } from '../../../../../web/stats-params.ts';
import { waveDeps } from '../../../../../web/waves.ts';

/** Drop: no held sign-up of the wave is ever mailed; the wave closes. */
export const POST = apiRoute(async ({ params }, { db }) =>
  json(await settleWave(db, waveDeps(getRuntime().keys), parseId(params.id, 'wave id'), 'drop')),
);
