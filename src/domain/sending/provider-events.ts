import { addressesOf, tagValue, type MailFact } from './webhooks.ts';

/**
 * Bounces and complaints from SMTP relays, turned into the facts webhooks.ts records the way it
 * records Resend's events. Each parser takes the provider's verified JSON and answers facts (none
 * for an event Hearth does not record), or null when the body is not that provider's event at all
 * (the route answers 400). Shapes, from each provider's documentation and official SDK types:
 *
 * - Amazon SES through SNS: the SNS `Message` is JSON with `notificationType` (identity
 *   notifications) or `eventType` (configuration-set event publishing): `Bounce` with
 *   `bounce.bounceType` Permanent | Transient | Undetermined and `bouncedRecipients[].emailAddress`;
 *   `Complaint` with `complaint.complainedRecipients[].emailAddress`; `Delivery` with
 *   `delivery.recipients`. Our tags come back in `mail.tags` (event publishing; from the
 *   X-SES-MESSAGE-TAGS header) or, with original headers included, in `mail.headers`.
 * - Postmark: `RecordType` Bounce (`Type` HardBounce, SoftBounce, Transient, …; `Inactive` when
 *   Postmark stopped sending to the address), SpamComplaint, Delivery; `Email` or `Recipient`;
 *   our tags in `Metadata` (from X-PM-Metadata-* headers).
 * - Mailgun: `event-data.event` failed (`severity` permanent | temporary), complained,
 *   delivered; `recipient`; our tags in `user-variables` (from X-Mailgun-Variables).
 */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const array = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function dateOr(value: unknown, fallback = new Date()): Date {
  const at = typeof value === 'number' ? new Date(value * 1000) : new Date(str(value) ?? '');
  return Number.isNaN(at.getTime()) ? fallback : at;
}

/** "hearth_send=12, hearth_member=34" (the X-SES-MESSAGE-TAGS header) as a map. */
function parseTagHeader(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const [k, v] = pair.split('=').map((s) => s.trim());
    if (k && v) out[k] = v;
  }
  return out;
}

function sesTags(mail: Json): { sendId: string | undefined; memberId: string | undefined } {
  const tags = isObject(mail.tags) ? mail.tags : {};
  const first = (name: string) => str(array(tags[name])[0]);
  const header = array(mail.headers).find((h) => isObject(h) && str(h.name)?.toLowerCase() === 'x-ses-message-tags');
  const fromHeader = parseTagHeader(isObject(header) ? str(header.value) : undefined);
  return {
    sendId: tagValue(first('hearth_send') ?? fromHeader.hearth_send),
    memberId: tagValue(first('hearth_member') ?? fromHeader.hearth_member),
  };
}

/** The SES notification inside a verified SNS Notification's `Message`. */
export function sesFacts(message: string): MailFact[] | null {
  let n: unknown;
  try {
    n = JSON.parse(message);
  } catch {
    return null;
  }
  if (!isObject(n) || !isObject(n.mail)) return null;
  const type = str(n.notificationType) ?? str(n.eventType);
  if (!type) return null;
  const tags = sesTags(n.mail);
  const emailsOf = (list: unknown[]) => addressesOf(list.map((r) => (isObject(r) ? r.emailAddress : undefined)));
  if (type === 'Bounce' && isObject(n.bounce)) {
    const permanent = str(n.bounce.bounceType) === 'Permanent';
    const subType = [str(n.bounce.bounceType), str(n.bounce.bounceSubType)].filter(Boolean).join('/') || null;
    return [
      {
        kind: permanent ? 'bounced' : 'delayed',
        ...tags,
        recipients: emailsOf(array(n.bounce.bouncedRecipients)),
        at: dateOr(n.bounce.timestamp),
        subType,
      },
    ];
  }
  if (type === 'Complaint' && isObject(n.complaint)) {
    return [
      {
        kind: 'complained',
        ...tags,
        recipients: emailsOf(array(n.complaint.complainedRecipients)),
        at: dateOr(n.complaint.timestamp),
        subType: str(n.complaint.complaintFeedbackType) ?? null,
      },
    ];
  }
  if (type === 'Delivery' && isObject(n.delivery)) {
    return [
      {
        kind: 'delivered',
        ...tags,
        recipients: addressesOf(array(n.delivery.recipients)),
        at: dateOr(n.delivery.timestamp),
        subType: null,
      },
    ];
  }
  return [];
}

/**
 * Bounce types that mean the address takes no mail; `Inactive` (Postmark stopped sending there)
 * makes any bounce permanent. Temporary ones count as a delay; the rest (auto-responders,
 * subscribe/unsubscribe requests, challenge mails) are not about delivery and are not recorded.
 */
const POSTMARK_PERMANENT = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated']);
const POSTMARK_DELAY = new Set(['SoftBounce', 'Transient', 'DnsError', 'Unknown', 'Blocked', 'SpamNotification']);

export function postmarkFacts(body: unknown): MailFact[] | null {
  if (!isObject(body) || typeof body.RecordType !== 'string') return null;
  const metadata = isObject(body.Metadata) ? body.Metadata : {};
  const tags = { sendId: tagValue(metadata.hearth_send), memberId: tagValue(metadata.hearth_member) };
  const recipients = addressesOf([body.Email ?? body.Recipient]);
  switch (body.RecordType) {
    case 'Bounce': {
      const type = str(body.Type) ?? '';
      if (type === 'SpamComplaint') return [{ kind: 'complained', ...tags, recipients, at: dateOr(body.BouncedAt), subType: type }];
      const permanent = POSTMARK_PERMANENT.has(type) || (body.Inactive === true && POSTMARK_DELAY.has(type));
      if (!permanent && !POSTMARK_DELAY.has(type)) return [];
      return [{ kind: permanent ? 'bounced' : 'delayed', ...tags, recipients, at: dateOr(body.BouncedAt), subType: type || null }];
    }
    case 'SpamComplaint':
      return [{ kind: 'complained', ...tags, recipients, at: dateOr(body.BouncedAt), subType: str(body.Type) ?? 'SpamComplaint' }];
    case 'Delivery':
      return [{ kind: 'delivered', ...tags, recipients, at: dateOr(body.DeliveredAt), subType: null }];
    default:
      return [];
  }
}

/** Mailgun's event-data, once its signature is verified. */
export function mailgunFacts(eventData: unknown): MailFact[] | null {
  if (!isObject(eventData) || typeof eventData.event !== 'string') return null;
  const vars = isObject(eventData['user-variables']) ? eventData['user-variables'] : {};
  const tags = { sendId: tagValue(vars.hearth_send), memberId: tagValue(vars.hearth_member) };
  const recipients = addressesOf([eventData.recipient]);
  const at = dateOr(eventData.timestamp);
  switch (eventData.event) {
    case 'failed': {
      const permanent = eventData.severity === 'permanent';
      return [{ kind: permanent ? 'bounced' : 'delayed', ...tags, recipients, at, subType: str(eventData.reason) ?? null }];
    }
    case 'complained':
      return [{ kind: 'complained', ...tags, recipients, at, subType: null }];
    case 'delivered':
      return [{ kind: 'delivered', ...tags, recipients, at, subType: null }];
    default:
      return [];
  }
}
