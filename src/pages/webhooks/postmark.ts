import type { APIRoute } from 'astro';
import { postmarkWebhook } from '../../web/mail-webhooks.ts';

/** Bounces and complaints from an SMTP relay (README, "Any mail provider: SMTP"). */
export const POST: APIRoute = ({ request, locals }) =>
  postmarkWebhook(request, { db: locals.runtime.db, config: locals.runtime.config.inboundMail });
