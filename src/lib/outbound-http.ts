import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Requests to addresses staff typed in (outbound webhooks): the SSRF guard and a bounded POST.
 *
 * The guard refuses loopback, private, link-local, shared, multicast and reserved addresses. A name
 * is resolved and every address it has is checked; the request then connects to the checked
 * address itself (a pinned `lookup`), so a name that answers differently the second time (DNS
 * rebinding) cannot point the request somewhere else. TLS still verifies the certificate against
 * the name.
 */
// Two lists: one BlockList holding both families matches IPv4 addresses against IPv6 rules as
// IPv4-mapped addresses (so ::ffff:0:0/96 would refuse every IPv4 address).
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED_V4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  // IPv4-mapped and IPv4-compatible addresses: refused whatever IPv4 address they carry.
  ['::ffff:0:0', 96],
  ['::', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED_V6.addSubnet(net, prefix, 'ipv6');

/** True for an address no webhook may reach (unless private addresses are allowed). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return family === 4 ? BLOCKED_V4.check(address, 'ipv4') : BLOCKED_V6.check(address, 'ipv6');
}

export class UnsafeUrlError extends Error {}

export interface ResolvedTarget {
  url: URL;
  /** The checked address the connection goes to. */
  address: string;
  family: 4 | 6;
}

export interface GuardOptions {
  /** WEBHOOKS_ALLOW_PRIVATE: loopback and private receivers allowed (tests, a LAN install). */
  allowPrivate: boolean;
  /** A resolver for the name (tests); node:dns's lookup by default. */
  resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  timeoutMs?: number;
}

/** Only http(s), no credentials in the URL; returns the parsed URL or throws UnsafeUrlError. */
export function parseOutboundUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('The URL is not a valid absolute URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeUrlError('The URL must start with http:// or https://.');
  if (url.username || url.password) throw new UnsafeUrlError('The URL must not carry a user name or password.');
  return url;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Resolves the URL's host and checks every address. Throws UnsafeUrlError when one is private
 * (and private is not allowed) or when the name does not resolve.
 */
export async function resolveOutbound(raw: string, options: GuardOptions): Promise<ResolvedTarget> {
  const url = parseOutboundUrl(raw);
  const host = hostOf(url);
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    const resolve = options.resolve ?? ((h: string) => lookup(h, { all: true, verbatim: true }));
    const timeoutMs = options.timeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      addresses = await Promise.race([
        resolve(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        }),
      ]);
    } catch {
      throw new UnsafeUrlError(`The host ${host} could not be resolved.`);
    } finally {
      clearTimeout(timer);
    }
    if (addresses.length === 0) throw new UnsafeUrlError(`The host ${host} could not be resolved.`);
  }
  if (!options.allowPrivate) {
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      throw new UnsafeUrlError(
        `The URL points to a loopback, private or reserved address (${bad.address}); webhooks go to public addresses only.`,
      );
    }
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

export interface PostOutcome {
  /** The response status; undefined when no response came (refused, timed out, reset). */
  status: number | undefined;
  /** The first bytes of the response body (at most excerptBytes), as text. */
  excerpt: string;
  error: string | undefined;
  durationMs: number;
}

/**
 * POSTs a body to a checked target, connecting to its pinned address, and gives up after
 * timeoutMs whatever the receiver does. Reads at most excerptBytes of the answer; never follows
 * redirects.
 */
export function postPinned(
  target: ResolvedTarget,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; excerptBytes?: number },
): Promise<PostOutcome> {
  const started = Date.now();
  const limit = options.excerptBytes ?? 1024;
  const pinned: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<PostOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, durationMs: Date.now() - started });
    };
    const req = request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinned,
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          finish({ status: res.statusCode, excerpt: Buffer.concat(chunks).toString('utf8').slice(0, limit), error: undefined });
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (size < limit) chunks.push(chunk.subarray(0, limit - size));
          size += chunk.length;
          if (size >= limit) done();
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      finish({ status: undefined, excerpt: '', error: `no answer within ${options.timeoutMs / 1000} s` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ status: undefined, excerpt: '', error: err.code ?? err.message }));
    req.end(body);
  });
}

export interface PinnedRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
  timeoutMs: number;
  /** The most of the answer's body read; a longer answer fails (ResponseTooLargeError). */
  maxBytes: number;
}

export class ResponseTooLargeError extends Error {}

/**
 * A request to a checked target (see resolveOutbound), connecting to its pinned address, with
 * the whole answer as a fetch Response: for peers that speak HTTP and JSON (the fediverse).
 * Never follows redirects (the caller checks the next address first); gives up after timeoutMs.
 */
export function requestPinned(target: ResolvedTarget, init: PinnedRequest): Promise<Response> {
  const pinned: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const req = request(target.url, { method: init.method, headers, lookup: pinned, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > init.maxBytes) {
          res.destroy();
          clearTimeout(timer);
          reject(new ResponseTooLargeError(`the answer from ${target.url.host} is larger than ${init.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (Array.isArray(value)) for (const v of value) out.append(name, v);
          else if (value !== undefined) out.set(name, value);
        }
        const status = res.statusCode ?? 502;
        const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
        const response = new Response(body, { status, headers: out });
        Object.defineProperty(response, 'url', { value: target.url.href });
        resolve(response);
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer from ${target.url.host} within ${init.timeoutMs / 1000} s`));
    }, init.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(init.body);
  });
}
