import { listAutomaticEmails } from '../../../../domain/emails/emails.ts';
import { automaticEmailListJson } from '../../../../web/api/email.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

/** GET /api/v1/emails: every automatic email kind, with the languages staff rewrote it in. */
export const GET = apiRoute(async (_input, { db }) => json(automaticEmailListJson(await listAutomaticEmails(db))));
