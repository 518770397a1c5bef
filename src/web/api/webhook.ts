import { z } from 'zod';
import type { WebhookDeliveryRow, WebhookEndpoint } from '../../domain/webhooks/endpoints.ts';
import { WEBHOOK_EVENTS } from '../../domain/webhooks/events.ts';
import { Id, Timestamp } from './schema.ts';

/** The webhooks API's contract (README "Outbound webhooks"): the new-endpoint body, the shapes, their serializers. */

export const WebhookEvent = z.enum(WEBHOOK_EVENTS);

/** POST /api/v1/webhooks. */
export const newWebhookBody = z
  .strictObject({
    url: z.string().min(1).max(2000).meta({ description: 'http(s); public addresses only unless WEBHOOKS_ALLOW_PRIVATE=1.' }),
    events: z.array(WebhookEvent).min(1).max(WEBHOOK_EVENTS.length),
    description: z.string().max(500).optional(),
  })
  .meta({ id: 'WebhookCreate' });

export const Webhook = z
  .strictObject({
    id: Id,
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_at: Timestamp.nullable(),
    disabled_reason: z.string().nullable(),
    failing_since: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .meta({ id: 'Webhook' });

/** The answer to POST only: the endpoint with its signing secret, which is never shown again. */
export const WebhookWithSecret = Webhook.extend({
  secret: z.string().meta({ description: 'whsec_<base64>: shown once, at creation.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
}).meta({ id: 'WebhookWithSecret' });

export const WebhookDelivery = z
  .strictObject({
    id: Id,
    message_id: z.string().meta({ description: 'The webhook-id header, the same on every attempt and replay.' }),
    event: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.int(),
    last_status_code: z.int().nullable(),
    last_response: z.string().nullable().meta({ description: 'The first bytes of the last answer.' }),
    last_error: z.string().nullable(),
    next_attempt_at: Timestamp.nullable(),
    created_at: Timestamp,
    delivered_at: Timestamp.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

export const WebhookCreated = z.strictObject({ webhook: WebhookWithSecret });
export const WebhookList = z.strictObject({ webhooks: z.array(Webhook) });
export const WebhookDeliveryList = z.strictObject({ deliveries: z.array(WebhookDelivery) });
export const WebhookDeliveryEnvelope = z.strictObject({ delivery: WebhookDelivery });

export function webhookJson(w: WebhookEndpoint): z.infer<typeof Webhook> {
  return {
    id: w.id,
    url: w.url,
    description: w.description,
    events: w.events,
    enabled: w.disabled_at === null,
    disabled_at: w.disabled_at?.toISOString() ?? null,
    disabled_reason: w.disabled_reason,
    failing_since: w.failing_since?.toISOString() ?? null,
    created_at: w.created_at.toISOString(),
  };
}

export function webhookDeliveryJson(d: WebhookDeliveryRow): z.infer<typeof WebhookDelivery> {
  return {
    id: d.id,
    message_id: d.message_id,
    event: d.event_type,
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.last_status_code,
    last_response: d.last_response,
    last_error: d.last_error,
    next_attempt_at: d.next_attempt_at?.toISOString() ?? null,
    created_at: d.created_at.toISOString(),
    delivered_at: d.delivered_at?.toISOString() ?? null,
  };
}
