import { getSend, sendReport } from '../../../../domain/sending/sends.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { sendJson } from '../../../../web/api/send.ts';
import { json } from '../../../../web/http.ts';

/** GET /api/v1/sends/:id → {"send": Send}; `?report=1` adds the batches by status and the failures. */
export const GET = apiRoute(async ({ params, url }, { db }) => {
  if (url.searchParams.get('report') === '1') {
    const report = await sendReport(db, params.id!);
    return json({ ...report, send: sendJson(report.send) });
  }
  return json({ send: sendJson(await getSend(db, params.id!)) });
});
