import { describe, expect, it } from 'vitest';
import { normaliseAddress, parseForwarded, parseTrustProxy, resolveClientAddress, TrustProxyError } from '../../src/lib/client-address.ts';

const resolve = (trust: string | undefined, peer: string, headers: Record<string, string> = {}) =>
  resolveClientAddress({ peer, headers }, parseTrustProxy(trust));

describe('TRUST_PROXY parsing', () => {
  it('is off when unset, empty, 0, false or off', () => {
    for (const v of [undefined, '', ' ', '0', 'false', 'off']) expect(parseTrustProxy(v)).toEqual({ kind: 'off' });
  });

  it('reads a hop count and a list of addresses, CIDRs and names', () => {
    expect(parseTrustProxy('2')).toEqual({ kind: 'hops', hops: 2 });
    const list = parseTrustProxy(' 10.0.0.0/8, 192.0.2.7 ,fd00::/8, ::1, loopback, private,linklocal');
    expect(list.kind).toBe('list');
  });

  it('refuses what is neither, naming the entry', () => {
    for (const bad of ['true', '10.0.0.0/33', 'fd00::/129', 'nginx', '10.0.0.1/8/2', '300.1.1.1', '99', ',']) {
      expect(() => parseTrustProxy(bad), bad).toThrow(TrustProxyError);
    }
    expect(() => parseTrustProxy('10.0.0.0/8, proxy.internal')).toThrow(/"proxy.internal"/);
  });
});

describe('normaliseAddress', () => {
  it('drops ports, brackets, quotes and the IPv4-mapped prefix; refuses what is not an IP', () => {
    expect(normaliseAddress('192.0.2.1:8080')).toBe('192.0.2.1');
    expect(normaliseAddress('"[2001:DB8::1]:4711"')).toBe('2001:db8::1');
    expect(normaliseAddress('::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(normaliseAddress(' 2001:db8::2 ')).toBe('2001:db8::2');
    for (const bad of ['unknown', '_hidden', '', 'example.com', '1.2.3']) expect(normaliseAddress(bad)).toBeUndefined();
  });
});

describe('parseForwarded (RFC 7239)', () => {
  it('reads for= and proto= of each element, quoted or not, in order', () => {
    expect(parseForwarded('for=192.0.2.60;proto=HTTPS;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for=unknown')).toEqual([
      { for: '192.0.2.60', proto: 'https' },
      { for: '[2001:db8:cafe::17]:4711', proto: undefined },
      { for: 'unknown', proto: undefined },
    ]);
  });
});

describe('resolveClientAddress', () => {
  const xff = (v: string) => ({ 'x-forwarded-for': v });

  it('off: the peer, whatever the headers say', () => {
    expect(resolve(undefined, '::ffff:10.0.0.5', { ...xff('203.0.113.9'), 'x-forwarded-proto': 'https' })).toEqual({
      address: '10.0.0.5',
      proto: undefined,
    });
  });

  it('a hop count believes that many hops from the peer', () => {
    const headers = xff('198.51.100.1, 203.0.113.9, 10.0.0.2');
    expect(resolve('1', '10.0.0.1', headers).address).toBe('10.0.0.2');
    expect(resolve('2', '10.0.0.1', headers).address).toBe('203.0.113.9');
    expect(resolve('3', '10.0.0.1', headers).address).toBe('198.51.100.1');
    // More hops than entries: the leftmost one.
    expect(resolve('9', '10.0.0.1', headers).address).toBe('198.51.100.1');
    // No header: the peer.
    expect(resolve('1', '10.0.0.1').address).toBe('10.0.0.1');
  });

  it('a list walks from the peer leftwards past trusted proxies; a spoofed leftmost entry is not believed', () => {
    const trust = '10.0.0.0/8, 2001:db8:ffff::/48';
    // The client sent "1.1.1.1" itself; our proxy appended the address it saw.
    expect(resolve(trust, '10.0.0.1', xff('1.1.1.1, 198.51.100.7')).address).toBe('198.51.100.7');
    expect(resolve(trust, '10.0.0.1', xff('198.51.100.7, 10.2.3.4')).address).toBe('198.51.100.7');
    expect(resolve(trust, '2001:db8:ffff::1', xff('2001:db8:1::9')).address).toBe('2001:db8:1::9');
    expect(resolve(trust, '10.0.0.1', xff('10.0.0.7, 10.0.0.8')).address).toBe('10.0.0.7');
    // An untrusted peer's header is ignored.
    expect(resolve(trust, '203.0.113.50', { ...xff('198.51.100.7'), 'x-forwarded-proto': 'https' })).toEqual({
      address: '203.0.113.50',
      proto: undefined,
    });
  });

  it('an entry that is not an address stops the walk at the nearest hop we can vouch for', () => {
    expect(resolve('10.0.0.0/8', '10.0.0.1', xff('198.51.100.7, garbage')).address).toBe('10.0.0.1');
    expect(resolve('1', '10.0.0.1', xff('unknown')).address).toBe('10.0.0.1');
  });

  it('reads Forwarded when there is no X-Forwarded-For, and the protocol only from a trusted peer', () => {
    const forwarded = { forwarded: 'for=198.51.100.7;proto=https, for="[2001:db8::5]"' };
    expect(resolve('loopback', '127.0.0.1', forwarded)).toEqual({ address: '2001:db8::5', proto: 'https' });
    expect(resolve('2', '127.0.0.1', forwarded)).toEqual({ address: '198.51.100.7', proto: 'https' });
    expect(resolve('1', '127.0.0.1', { ...xff('198.51.100.8'), 'x-forwarded-proto': 'http' })).toEqual({
      address: '198.51.100.8',
      proto: 'http',
    });
  });
});
