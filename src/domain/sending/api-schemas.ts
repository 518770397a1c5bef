import { z } from 'zod';

/** POST /api/v1/sends (DESIGN.md). The segment's own rules are checked by segments.ts. */
const segment = z
  .object({
    newsletters: z.array(z.string().max(100)).max(50),
    tiers: z.array(z.string().max(100)).max(50).optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    platforms: z.array(z.string().max(40)).max(50).optional(),
    engagement: z.string().max(20).optional(),
  })
  .strict();

export const sendBody = z
  .object({
    post_id: z.union([z.string().regex(/^\d{1,18}$/), z.number().int().positive()]).transform(String),
    segment,
    send_at: z.iso.datetime({ offset: true }).optional(),
    undo_seconds: z.number().int().optional(),
    /** Keep it as a draft instead of scheduling it. */
    draft: z.boolean().optional(),
  })
  .strict();

export const countBody = z.object({ post_id: sendBody.shape.post_id, segment }).strict();

export const scheduleBody = z
  .object({ send_at: z.iso.datetime({ offset: true }).optional(), undo_seconds: z.number().int().optional() })
  .strict();
