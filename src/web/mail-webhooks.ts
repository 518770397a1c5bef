import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { mailgunFacts, postmarkFacts, sesFacts } from '../domain/sending/provider-events.ts';
import { recordMailFacts, type MailFact } from '../domain/sending/webhooks.ts';
import type { Config } from '../lib/config.ts';
import { errorFields, log } from '../lib/log.ts';
import {
  fetchSnsCert,
  isSnsMessage,
  isSnsUrl,
  postmarkAuthorized,
  verifyMailgunSignature,
  verifySnsMessage,
  type CertFetcher,
} from '../lib/mailer/inbound.ts';
import { enqueue } from '../lib/queue.ts';

/**
 * The inbound webhooks of SMTP relays (POST /webhooks/ses, /postmark, /mailgun), as
 * `(Request, deps) → Response`: off (404) until configured; a body that is not the provider's
 * JSON → 400; a bad signature, token or topic → 401; an event Hearth does not record → 200; a
 * failure while recording → 500, so the provider retries (recording is idempotent, any order).
 */
export interface InboundMailDeps {
  db: Kysely<Database>;
  config: Config['inboundMail'];
  /** The SNS signing certificate download; tests pass one that serves the certificate they made. */
  fetchCert?: CertFetcher;
}

const MAX_BODY = 256 * 1024;

const text = (status: number, message: string) =>
  new Response(message, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });

async function readBody(request: Request): Promise<string | Response> {
  const body = await request.text();
  return body.length > MAX_BODY ? text(413, 'Payload too large.') : body;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

async function record(provider: string, db: Kysely<Database>, facts: MailFact[]): Promise<Response> {
  try {
    const outcome = await recordMailFacts(db, facts);
    return new Response(JSON.stringify({ received: true, outcome }), { headers: { 'content-type': 'application/json' } });
  } catch (err) {
    log.error('mail webhook failed', { provider, ...errorFields(err) });
    return text(500, 'Handling failed; retry.');
  }
}

/** Amazon SES bounce and complaint notifications, through an SNS topic subscribed over HTTPS. */
export async function sesWebhook(request: Request, deps: InboundMailDeps): Promise<Response> {
  const topics = deps.config.sesTopicArns;
  if (!topics) return text(404, 'The SES webhook is not configured (SES_SNS_TOPIC_ARN).');
  const body = await readBody(request);
  if (body instanceof Response) return body;
  const message = parseJson(body);
  if (!isSnsMessage(message)) return text(400, 'Not an Amazon SNS message.');
  // An SNS signature proves that some topic sent this, anyone's: only ours are accepted, and
  // that is checked before any certificate is fetched.
  if (!topics.includes(message.TopicArn)) return text(401, 'Unknown topic.');
  if (!(await verifySnsMessage(message, deps.fetchCert ?? fetchSnsCert))) return text(401, 'Bad signature.');
  if (message.Type === 'SubscriptionConfirmation') {
    const url = message.SubscribeURL ?? '';
    if (!isSnsUrl(url)) return text(400, 'SubscribeURL is not an Amazon SNS address.');
    // The confirmation is a request to AWS: it goes through the job queue like every outside call.
    const key = createHash('sha256').update(url).digest('hex').slice(0, 32);
    await enqueue(deps.db, 'sns_confirm_subscription', { subscribeUrl: url }, { jobKey: `sns-confirm-${key}`, maxAttempts: 8 });
    log.info('SNS subscription confirmation queued', { topic: message.TopicArn });
    return text(200, 'Subscription confirmation queued.');
  }
  if (message.Type !== 'Notification') return text(200, 'Ignored.');
  const facts = sesFacts(message.Message);
  if (facts === null) return text(400, 'Not an Amazon SES notification.');
  return record('ses', deps.db, facts);
}

/** Postmark's bounce, spam-complaint (and delivery) webhooks, authorised by the secret in their URL. */
export async function postmarkWebhook(request: Request, deps: InboundMailDeps): Promise<Response> {
  const token = deps.config.postmarkToken;
  if (!token) return text(404, 'The Postmark webhook is not configured (POSTMARK_WEBHOOK_TOKEN).');
  if (!postmarkAuthorized(token, request.headers.get('authorization'), new URL(request.url))) {
    return new Response('Bad credentials.', { status: 401, headers: { 'www-authenticate': 'Basic realm="hearth-webhooks"' } });
  }
  const body = await readBody(request);
  if (body instanceof Response) return body;
  const facts = postmarkFacts(parseJson(body));
  if (facts === null) return text(400, 'Not a Postmark webhook event.');
  return record('postmark', deps.db, facts);
}

/** Mailgun's event webhooks: {"signature": {timestamp, token, signature}, "event-data": {…}}. */
export async function mailgunWebhook(request: Request, deps: InboundMailDeps): Promise<Response> {
  const key = deps.config.mailgunSigningKey;
  if (!key) return text(404, 'The Mailgun webhook is not configured (MAILGUN_WEBHOOK_SIGNING_KEY).');
  const body = await readBody(request);
  if (body instanceof Response) return body;
  const parsed = parseJson(body);
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { signature?: unknown }).signature !== 'object') {
    return text(400, 'Not a Mailgun webhook event.');
  }
  const { signature, 'event-data': eventData } = parsed as { signature: Record<string, unknown>; 'event-data'?: unknown };
  if (!signature || !verifyMailgunSignature(key, signature)) return text(401, 'Bad signature.');
  const facts = mailgunFacts(eventData);
  if (facts === null) return text(400, 'Not a Mailgun event.');
  return record('mailgun', deps.db, facts);
}
