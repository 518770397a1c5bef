import { statsAnswers } from '../../../../domain/stats/answers.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

export const GET = apiRoute(async (_request, { db }) => json(await statsAnswers(db)));
