import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { createAutomation, type Actor, type AutomationRow } from './automations.ts';

/**
 * The ready-made re-engagement and sunset automation, made as a draft (off until staff turn it
 * on): a member who went cold gets one "do you still want this?" email with a one-click stay
 * link; one who does not click it (a human click: scanners' clicks are not counted) within the
 * chosen time is unsubscribed with the reason `sunset`. Mailbox providers reward a list that
 * stops writing to people who stopped reading.
 *
 * The stay link goes through the click redirect like any link, to /stay, a page that only says
 * thank you: the click itself is the answer, so the member does nothing more.
 */
export async function createSunsetAutomation(
  db: Kysely<Database>,
  siteUrl: string,
  actor: Actor,
  options: { waitDays?: number } = {},
): Promise<AutomationRow> {
  const days = Math.min(365, Math.max(1, Math.round(options.waitDays ?? 14)));
  return createAutomation(
    db,
    siteUrl,
    {
      name: 'Re-engagement and sunset',
      template: 'sunset',
      status: 'draft',
      trigger: { type: 'went_cold' },
      steps: [
        {
          type: 'email',
          subject: 'Do you still want our letters?',
          preheader: 'One click keeps them coming.',
          markdown: `Hi {{name}},

We have not seen you open or click one of our letters in a while. That is fine: inboxes are busy.

If you still want them, one click is all it takes:

**[Yes, keep me subscribed]({{site_url}}/stay)**

If we do not hear from you within ${days} days, we will stop writing to you, so that we do not clutter your inbox. You can come back any time.`,
        },
        { type: 'wait', duration: `P${days}D` },
        { type: 'condition', if: { clicked_previous_email: true }, then: 'exit', else: 'continue' },
        { type: 'unsubscribe', reason: 'sunset' },
      ],
    },
    actor,
  );
}
