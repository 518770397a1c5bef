import { z } from 'zod';
import { createRecommendation, listRecommendations } from '../../../../domain/recommendations/recommendations.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

const body = z.strictObject({ url: z.string().max(2000), name: z.string().max(120), reason: z.string().max(500).optional() });

const shape = (r: Awaited<ReturnType<typeof listRecommendations>>[number]) => ({
  id: r.id,
  url: r.url,
  name: r.name,
  reason: r.reason,
  readers_sent: r.clicks,
  readers_received: r.received,
});

export const GET = apiRoute(async (_, { db }) => json({ recommendations: (await listRecommendations(db)).map(shape) }));

export const POST = apiRoute(async ({ request }, { db }) => {
  const r = await createRecommendation(db, await readJson(request, body));
  return json({ recommendation: shape({ ...r, received: 0 }) }, 201);
});
