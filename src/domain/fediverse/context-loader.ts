import { preloadedContexts, type DocumentLoader } from '@fedify/fedify';

/** JSON-LD contexts for serialising our own activities: Fedify's preloaded copies, never a request. */
export const contextLoader: DocumentLoader = async (url) => {
  if (url in preloadedContexts) return { contextUrl: null, documentUrl: url, document: preloadedContexts[url] };
  throw new Error(`unknown JSON-LD context ${url}`);
};
