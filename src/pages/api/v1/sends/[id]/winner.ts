import { pickWinnerByHand } from '../../../../../domain/sending/sends.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { sendJson, winnerBody } from '../../../../../web/api/send.ts';
import { json, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/sends/:id/winner {"subject_index": n}: staff pick a subject test's winner before the wait is over. */
export const POST = apiRoute(async ({ params, request }, { db, staff }) => {
  const body = await readJson(request, winnerBody);
  return json({ send: sendJson(await pickWinnerByHand(db, params.id!, body.subject_index, staff)) });
});
