import { createRecommendation, listRecommendations } from '../../../../domain/recommendations/recommendations.ts';
import { newRecommendationBody, recommendationJson } from '../../../../web/api/recommendation.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) => json({ recommendations: (await listRecommendations(db)).map(recommendationJson) }));

/** Adds (or, for an address already listed, updates) a recommendation; its kind is read from the site (at most 5 s). */
export const POST = apiRoute(async ({ request }, { db, federationAllowPrivate }) => {
  const body = await readJson(request, newRecommendationBody);
  const r = await createRecommendation(db, body, { allowPrivate: federationAllowPrivate ?? false });
  const listed = (await listRecommendations(db)).find((x) => x.id === r.id) ?? { ...r, subscribed: 0, received: 0 };
  return json({ recommendation: recommendationJson(listed) }, 201);
});
