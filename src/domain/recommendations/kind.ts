import type { RecommendationKind } from '../../../db/types.ts';
import { requestPinned, resolveOutbound } from '../../lib/outbound-http.ts';

/**
 * What kind of site a recommended address is: Hearth, Ghost or anything else. Both Hearth and
 * Ghost name themselves in their pages' `<meta name="generator">` ("Hearth", "Ghost 6.2"); a
 * Hearth site can then be subscribed to in one step (subscribe.ts). The page is fetched through
 * the SSRF guard (lib/outbound-http.ts: no loopback or private address unless allowed, each
 * redirect checked again), bounded in size and in time: a staff request waits at most
 * DETECT_TIMEOUT_MS, and a site that does not answer in time is "other" (saving again checks again).
 */
export const DETECT_TIMEOUT_MS = 5_000;
const MAX_PAGE_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;

/** The kind a page's HTML declares; pure. */
export function kindFromHtml(html: string): RecommendationKind {
  for (const tag of html.match(/<meta\b[^>]*>/gi) ?? []) {
    if (!/\bname\s*=\s*["']?generator\b/i.test(tag)) continue;
    const content = /\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag);
    const value = (content?.[1] ?? content?.[2] ?? '').trim();
    if (/^hearth\b/i.test(value)) return 'hearth';
    if (/^ghost\b/i.test(value)) return 'ghost';
  }
  return 'other';
}

async function fetchPage(url: string, allowPrivate: boolean, deadline: number): Promise<string | null> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const left = deadline - Date.now();
    if (left <= 0) return null;
    const target = await resolveOutbound(current, { allowPrivate, timeoutMs: left });
    const response = await requestPinned(target, {
      method: 'GET',
      headers: { accept: 'text/html', 'user-agent': 'Hearth (+recommendations)' },
      timeoutMs: Math.max(1, deadline - Date.now()),
      maxBytes: MAX_PAGE_BYTES,
    });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      current = new URL(location, current).href;
      continue;
    }
    return response.ok ? response.text() : null;
  }
  return null;
}

export async function detectKind(url: string, options: { allowPrivate: boolean; timeoutMs?: number }): Promise<RecommendationKind> {
  const deadline = Date.now() + (options.timeoutMs ?? DETECT_TIMEOUT_MS);
  try {
    const html = await fetchPage(url, options.allowPrivate, deadline);
    return html === null ? 'other' : kindFromHtml(html);
  } catch {
    // Unreachable, refused by the guard, too large, too slow: nothing says what it is.
    return 'other';
  }
}
