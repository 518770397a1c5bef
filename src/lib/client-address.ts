import { BlockList, isIP } from 'node:net';

/**
 * Who the client is when Hearth sits behind reverse proxies (`TRUST_PROXY`).
 *
 * A proxy appends the address it was reached from to `X-Forwarded-For` (or to RFC 7239's
 * `Forwarded: for=`), so the header reads "client, proxy1, proxy2" and the TCP peer is the last
 * proxy. Anyone can send that header, so only the hops we trust may be believed: walking from the
 * peer leftwards, each trusted hop vouches for the entry to its left; the first hop we do not
 * trust is the client. Off by default: the TCP peer is the client and the headers are ignored.
 *
 * - `off` (unset, `0`, `false`): the peer is the client.
 * - a hop count `N`: the N nearest hops (the peer first) are proxies; e.g. `1` for one nginx.
 * - a list of proxy addresses and CIDRs, IPv4 or IPv6 (`10.0.0.0/8, fd00::/8, 192.0.2.7`), and the
 *   words `loopback`, `private` (10/8, 172.16/12, 192.168/16, fc00::/7) and `linklocal`.
 *
 * Pure: no I/O, no configuration read here (config.ts parses the variable, server.ts applies it).
 */
export type TrustProxy = { kind: 'off' } | { kind: 'hops'; hops: number } | { kind: 'list'; list: BlockList; entries: string[] };

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
};

export class TrustProxyError extends Error {}

/** Parses TRUST_PROXY; throws TrustProxyError with a message naming the bad entry. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'off') return { kind: 'off' };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 32) throw new TrustProxyError(`a hop count is at most 32, got "${value}"`);
    return { kind: 'hops', hops };
  }
  if (v === 'true') {
    throw new TrustProxyError('"true" would let any client choose its address; give a hop count (e.g. 1) or the proxies\' addresses');
  }
  const list = new BlockList();
  const entries: string[] = [];
  for (const raw of v.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    for (const part of NAMED[entry] ?? [entry]) addEntry(list, part, entry);
    entries.push(entry);
  }
  if (entries.length === 0) throw new TrustProxyError(`must be a hop count or a list of addresses, got "${value}"`);
  return { kind: 'list', list, entries };
}

function addEntry(list: BlockList, entry: string, shown: string): void {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  const bad = () =>
    new TrustProxyError(`"${shown}" is not an address, a CIDR (e.g. 10.0.0.0/8, fd00::/8), a hop count, loopback, private or linklocal`);
  if (extra !== undefined || family === 0) throw bad();
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) {
    list.addAddress(address!, type);
    return;
  }
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!(bits >= 0 && bits <= (family === 6 ? 128 : 32))) throw bad();
  list.addSubnet(address!, bits, type);
}

/**
 * An address as a header or socket gives it, reduced to the bare IP: quotes, brackets and ports
 * dropped ("[2001:db8::1]:4711", "192.0.2.1:80"), IPv4-mapped IPv6 written as IPv4. Anything that
 * is not an IP ("unknown", RFC 7239's obfuscated "_hidden") is undefined.
 */
export function normaliseAddress(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let a = raw.trim().replace(/^"(.*)"$/, '$1');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a : undefined;
}

/** The `for=` and `proto=` of each element of a `Forwarded` header (RFC 7239), left to right. */
export function parseForwarded(header: string): { for: string | undefined; proto: string | undefined }[] {
  const elements: { for: string | undefined; proto: string | undefined }[] = [];
  // Elements are separated by commas and pairs by semicolons; a quoted value may hold either.
  for (const element of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const pairs = new Map<string, string>();
    for (const pair of element.match(/(?:[^;"]|"[^"]*")+/g) ?? []) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      pairs.set(
        pair.slice(0, eq).trim().toLowerCase(),
        pair
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      );
    }
    elements.push({ for: pairs.get('for'), proto: pairs.get('proto')?.toLowerCase() });
  }
  return elements;
}

export interface ProxiedRequest {
  /** The TCP peer (`socket.remoteAddress`). */
  peer: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface ClientAddress {
  /** The client's IP, or the peer's when nothing trustworthy says otherwise ('unknown' without a peer). */
  address: string;
  /** The protocol a trusted proxy says the client used; undefined when the peer is not trusted or says nothing. */
  proto: 'http' | 'https' | undefined;
}

function header(headers: ProxiedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  const joined = Array.isArray(v) ? v.join(',') : v;
  return joined === undefined || joined.trim() === '' ? undefined : joined;
}

/**
 * The client's address and protocol under the trust policy. X-Forwarded-For is read when present
 * (what nginx, Caddy, Traefik, HAProxy and cloud load balancers write), else Forwarded; a proxy
 * that writes only Forwarded must drop a client's X-Forwarded-For.
 */
export function resolveClientAddress(request: ProxiedRequest, trust: TrustProxy): ClientAddress {
  const peer = normaliseAddress(request.peer) ?? request.peer ?? 'unknown';
  if (trust.kind === 'off') return { address: peer, proto: undefined };

  const xff = header(request.headers, 'x-forwarded-for');
  const forwarded = xff === undefined ? header(request.headers, 'forwarded') : undefined;
  const elements =
    xff !== undefined ? xff.split(',').map((e) => ({ for: e, proto: undefined })) : forwarded ? parseForwarded(forwarded) : [];
  // Nearest first: the peer, then the entries right to left.
  const hops: (string | undefined)[] = [peer, ...elements.map((e) => normaliseAddress(e.for)).reverse()];
  const trusted = (address: string, index: number) =>
    trust.kind === 'hops' ? index < trust.hops : trust.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

  if (!trusted(peer, 0)) return { address: peer, proto: undefined };
  let address = peer;
  for (let i = 1; i < hops.length; i++) {
    const hop = hops[i];
    // An entry that is not an address: believe the nearest hop that we could vouch for.
    if (hop === undefined) break;
    address = hop;
    if (!trusted(hop, i)) break;
  }
  const protoHeader = header(request.headers, 'x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() ?? elements[0]?.proto;
  const proto = protoHeader === 'https' ? 'https' : protoHeader === 'http' ? 'http' : undefined;
  return { address, proto };
}
