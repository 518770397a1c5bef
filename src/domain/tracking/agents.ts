/**
 * Honest counting: which requests are people and which are machines. Pure, unit-tested.
 *
 * - Apple Mail Privacy Protection fetches every image (the open pixel too) through a proxy whose
 *   user agent is exactly "Mozilla/5.0", whether or not the reader opens the email.
 * - Gmail and Yahoo proxy images only when the reader opens the email: those opens are human.
 * - Link scanners (corporate gateways, Safe Links, antivirus) follow every link, often seconds
 *   after delivery, with bot-like agents or HEAD requests.
 * The user agent is never stored: only the class this returns.
 */
export type AgentClass = 'apple-mpp' | 'gmail-proxy' | 'yahoo-proxy' | 'bot' | 'mail-client' | 'browser' | 'unknown' | 'other';

const BOT =
  /bot\b|bot\/|crawl|spider|slurp|preview|scanner|proofpoint|mimecast|barracuda|safelinks|linkscan|curl\/|wget|python|httpclient|http-client|go-http|java\/|okhttp|axios|node-fetch|undici|headless|phantomjs|facebookexternalhit|whatsapp|slackbot|discordbot|telegrambot|embedly/i;

export function agentClass(userAgent: string | null | undefined): AgentClass {
  const ua = (userAgent ?? '').trim();
  if (ua === '') return 'unknown';
  if (ua === 'Mozilla/5.0') return 'apple-mpp';
  if (/GoogleImageProxy/i.test(ua)) return 'gmail-proxy';
  if (/YahooMailProxy/i.test(ua)) return 'yahoo-proxy';
  if (BOT.test(ua)) return 'bot';
  if (/Thunderbird|Microsoft Outlook|MSOffice|Outlook-iOS|Outlook-Android|AppleMail|Mail\/\d/i.test(ua)) return 'mail-client';
  if (/^Mozilla\/5\.0 \(/.test(ua) && /AppleWebKit|Gecko\/|Trident|Chrome\/|Safari\//.test(ua)) return 'browser';
  return 'other';
}

/** A click this soon after the email was posted is a scanner's, not a reader's. */
export const SCANNER_SECONDS = 10;

export interface TrackedRequest {
  kind: 'open' | 'click' | 'read' | 'view';
  method: string;
  agent: AgentClass;
  /** Seconds since the delivery was posted (opens and clicks), when known. */
  secondsSincePosted?: number | null | undefined;
}

export function isMachine(request: TrackedRequest): boolean {
  if (request.method === 'HEAD') return true;
  if (request.agent === 'apple-mpp' || request.agent === 'bot' || request.agent === 'unknown') return true;
  if (
    request.kind === 'click' &&
    request.secondsSincePosted != null &&
    request.secondsSincePosted >= 0 &&
    request.secondsSincePosted < SCANNER_SECONDS
  )
    return true;
  return false;
}
