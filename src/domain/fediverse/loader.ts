import { getRemoteDocument, preloadedContexts, type DocumentLoader, type RemoteDocument } from '@fedify/fedify';
import { requestPinned, resolveOutbound } from '../../lib/outbound-http.ts';

/**
 * Fedify's document loader, through Hearth's SSRF guard (lib/outbound-http.ts): every remote
 * actor, key, object and JSON-LD context is fetched from an address checked first (no loopback,
 * private or reserved address unless FEDERATION_ALLOW_PRIVATE=1 in tests), connected to by that
 * very address, bounded in size and time; each redirect is checked again. The common JSON-LD
 * contexts are served from Fedify's preloaded copies without a request.
 */
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;
const ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams";q=0.9, application/json;q=0.8';

export async function guardedGet(url: string, allowPrivate: boolean, headers: Record<string, string> = {}): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = await resolveOutbound(current, { allowPrivate });
    if (!allowPrivate && target.url.protocol !== 'https:') throw new Error(`fediverse peers are reached over https only: ${current}`);
    const response = await requestPinned(target, {
      method: 'GET',
      headers: { accept: ACCEPT, 'user-agent': 'Hearth (+ActivityPub)', ...headers },
      timeoutMs: 10_000,
      maxBytes: MAX_DOCUMENT_BYTES,
    });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location && hop < MAX_REDIRECTS) {
      current = new URL(location, current).href;
      continue;
    }
    return response;
  }
}

export function guardedDocumentLoader(allowPrivate: boolean): DocumentLoader {
  const load: DocumentLoader = async (url: string): Promise<RemoteDocument> => {
    if (url in preloadedContexts) return { contextUrl: null, documentUrl: url, document: preloadedContexts[url] };
    const response = await guardedGet(url, allowPrivate);
    return getRemoteDocument(url, response, load);
  };
  return load;
}
