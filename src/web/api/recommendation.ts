import { z } from 'zod';
import type { listRecommendations } from '../../domain/recommendations/recommendations.ts';
import { Id } from './schema.ts';

/** The /api/v1/recommendations contract (docs/api.md, README "Recommendations"). */
export const newRecommendationBody = z
  .strictObject({
    url: z.string().max(2000).meta({ description: "The recommended site's address (http or https)." }),
    name: z.string().max(120),
    reason: z.string().max(500).optional().meta({ description: 'Why the brand recommends it, shown to readers.' }),
  })
  .meta({ id: 'RecommendationCreate' });

const Recommendation = z
  .strictObject({
    id: Id,
    url: z.string(),
    name: z.string(),
    reason: z.string(),
    kind: z.enum(['hearth', 'ghost', 'other']).meta({
      description: 'What the site is, read from its page when saved: a Hearth site can be subscribed to in one step.',
    }),
    readers_sent: z.int().meta({ description: 'Readers this site sent there: clicks on the recommendation and one-step subscriptions.' }),
    readers_subscribed: z.int().meta({ description: 'Of those, readers subscribed there in one step (each still confirms there).' }),
    readers_received: z.int().meta({ description: 'Members who came here from that site’s recommendation of this one.' }),
  })
  .meta({ id: 'Recommendation' });

export const RecommendationEnvelope = z.strictObject({ recommendation: Recommendation });
export const RecommendationList = z.strictObject({ recommendations: z.array(Recommendation) });

export function recommendationJson(r: Awaited<ReturnType<typeof listRecommendations>>[number]): z.infer<typeof Recommendation> {
  return {
    id: r.id,
    url: r.url,
    name: r.name,
    reason: r.reason,
    kind: r.kind,
    readers_sent: r.clicks + r.subscribed,
    readers_subscribed: r.subscribed,
    readers_received: r.received,
  };
}
