import type { APIRoute } from 'astro';
import { mailgunWebhook } from '../../web/mail-webhooks.ts';

/** Bounces and complaints from an SMTP relay (README, "Any mail provider: SMTP"). */
export const POST: APIRoute = ({ request, locals }) =>
  mailgunWebhook(request, { db: locals.runtime.db, config: locals.runtime.config.inboundMail });
