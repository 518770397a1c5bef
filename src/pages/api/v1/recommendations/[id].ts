import { deleteRecommendation } from '../../../../domain/recommendations/recommendations.ts';
import { apiRoute } from '../../../../web/api/route.ts';

export const DELETE = apiRoute(async ({ params }, { db }) => {
  await deleteRecommendation(db, params.id!);
  return new Response(null, { status: 204 });
});
