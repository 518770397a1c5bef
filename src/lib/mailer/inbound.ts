import { createHmac, createVerify, X509Certificate } from 'node:crypto';
import { safeEqual } from '../tokens.ts';

/**
 * Verifying what SMTP relays tell us after sending (bounces, complaints): Amazon SNS's message
 * signatures (SES), Mailgun's HMAC, Postmark's basic auth. Each function answers yes or no; the
 * mapping of the events themselves is domain/sending/provider-events.ts.
 */

/** An Amazon SNS message as it is POSTed to an HTTPS subscription (the JSON body). */
export interface SnsMessage {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

/**
 * SNS signs with a certificate it serves from its own regional host; a message pointing anywhere
 * else (another host, http, a look-alike such as sns.evil.com/amazonaws.com) is refused before
 * anything is fetched.
 */
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

export function isSnsUrl(value: string, options: { pem?: boolean } = {}): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.port !== '' || url.username !== '' || url.password !== '' || !SNS_HOST.test(url.hostname))
    return false;
  return !options.pem || url.pathname.endsWith('.pem');
}

/** The string SNS signs: the named fields in this order, each as "Name\nvalue\n" (AWS's "Verifying the signatures of Amazon SNS messages"). */
export function snsStringToSign(m: SnsMessage): string | null {
  const fields =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', ...(m.Subject === undefined ? [] : ['Subject']), 'Timestamp', 'TopicArn', 'Type']
      : m.Type === 'SubscriptionConfirmation' || m.Type === 'UnsubscribeConfirmation'
        ? ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
        : null;
  if (!fields) return null;
  let out = '';
  for (const f of fields) {
    const value = (m as unknown as Record<string, unknown>)[f];
    if (typeof value !== 'string') return null;
    out += `${f}\n${value}\n`;
  }
  return out;
}

export function isSnsMessage(value: unknown): value is SnsMessage {
  if (!value || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  return ['Type', 'MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL'].every(
    (k) => typeof m[k] === 'string',
  );
}

/** Downloads a signing certificate (PEM); the caller has checked the URL with isSnsUrl. */
export type CertFetcher = (url: string) => Promise<string>;

const certCache = new Map<string, string>();

/** The real fetcher: HTTPS from SNS's own host, 5 s at most, cached for the process's life (SNS rotates by URL). */
export const fetchSnsCert: CertFetcher = async (url) => {
  const cached = certCache.get(url);
  if (cached) return cached;
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
  if (!res.ok) throw new Error(`signing certificate: HTTP ${res.status}`);
  const pem = await res.text();
  if (pem.length > 20_000 || !pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('signing certificate: not a PEM certificate');
  if (certCache.size > 50) certCache.clear();
  certCache.set(url, pem);
  return pem;
};

/**
 * Whether SNS signed this message: the certificate URL is on SNS's host, the certificate is valid
 * now, and its key verifies the signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA)
 * over the string to sign. The topic is the caller's check (an SNS signature proves only that
 * some topic, anyone's, sent it).
 */
export async function verifySnsMessage(m: SnsMessage, fetchCert: CertFetcher, now = new Date()): Promise<boolean> {
  if (!isSnsUrl(m.SigningCertURL, { pem: true })) return false;
  const algorithm = m.SignatureVersion === '1' ? 'RSA-SHA1' : m.SignatureVersion === '2' ? 'RSA-SHA256' : null;
  const signed = snsStringToSign(m);
  if (!algorithm || signed === null) return false;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await fetchCert(m.SigningCertURL));
  } catch {
    return false;
  }
  if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) return false;
  try {
    return createVerify(algorithm).update(signed, 'utf8').verify(cert.publicKey, m.Signature, 'base64');
  } catch {
    return false;
  }
}

/** Mailgun: the hex HMAC-SHA256 of timestamp + token under the webhook signing key, compared in constant time. */
export function verifyMailgunSignature(
  signingKey: string,
  signature: { timestamp?: unknown; token?: unknown; signature?: unknown },
): boolean {
  const { timestamp, token } = signature;
  if (
    (typeof timestamp !== 'string' && typeof timestamp !== 'number') ||
    typeof token !== 'string' ||
    typeof signature.signature !== 'string'
  )
    return false;
  const expected = createHmac('sha256', signingKey).update(`${timestamp}${token}`).digest('hex');
  return safeEqual(expected, signature.signature.toLowerCase());
}

/**
 * Postmark signs nothing: its webhook URL carries a secret, as basic auth
 * (https://user:TOKEN@site/webhooks/postmark; any user name) or as ?token=TOKEN. Constant time.
 */
export function postmarkAuthorized(token: string, authorization: string | null, url: URL): boolean {
  const query = url.searchParams.get('token');
  if (query !== null && safeEqual(query, token)) return true;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '')?.[1];
  if (!basic) return false;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return decoded.includes(':') && safeEqual(password, token);
}

/** The job that confirms an SNS subscription (worker.ts): a GET of SubscribeURL, only ever on SNS's own host. */
export async function confirmSnsSubscription(subscribeUrl: string): Promise<void> {
  if (!isSnsUrl(subscribeUrl)) throw new Error('refusing to confirm a subscription outside Amazon SNS');
  const res = await fetch(subscribeUrl, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
  if (!res.ok) throw new Error(`SNS subscription confirmation: HTTP ${res.status}`);
}
