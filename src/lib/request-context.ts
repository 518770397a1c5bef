import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What Hearth's HTTP server (server.ts) learns about a request before the Astro app sees it:
 * the client's address under TRUST_PROXY and whether a trusted proxy says the client used HTTPS.
 * Carried through the request's async work, so a page reads it without threading it through.
 */
export interface RequestContext {
  clientAddress: string;
  /** A trusted proxy said `X-Forwarded-Proto: https` (or `Forwarded: proto=https`). */
  forwardedHttps: boolean;
}

// The built server bundle holds its own copy of this module (as with runtime.ts): one store for
// both, on globalThis under a well-known symbol.
const KEY = Symbol.for('hearth.requestContext');
type Holder = { [KEY]?: AsyncLocalStorage<RequestContext> };
const storage = ((globalThis as Holder)[KEY] ??= new AsyncLocalStorage<RequestContext>());

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Undefined outside a request served by server.ts (a page rendered in a test, a job). */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}
