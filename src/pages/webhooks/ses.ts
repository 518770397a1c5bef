import type { APIRoute } from 'astro';
import { sesWebhook } from '../../web/mail-webhooks.ts';

/** Bounces and complaints from an SMTP relay (README, "Any mail provider: SMTP"). */
export const POST: APIRoute = ({ request, locals }) =>
  sesWebhook(request, { db: locals.runtime.db, config: locals.runtime.config.inboundMail });
