import { describe, expect, it } from 'vitest';
import { isPrivateAddress, resolveOutbound } from '../../src/lib/outbound-http.ts';

/** The webhooks' SSRF guard: which addresses it refuses, and that a name is judged by every address. */
describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.31.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.1.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
  ])('refuses IPv4 %s', (a) => expect(isPrivateAddress(a)).toBe(true));
  it.each(['::1', '::', '::ffff:7f00:1', '::ffff:8.8.8.8', 'fe80::1', 'fd00::1', 'ff02::1'])('refuses IPv6 %s', (a) =>
    expect(isPrivateAddress(a)).toBe(true),
  );
  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700::1111'])('allows public %s', (a) =>
    expect(isPrivateAddress(a)).toBe(false),
  );
});

describe('resolveOutbound', () => {
  const resolver = (addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a name when any of its addresses is private, and pins to the checked one otherwise', async () => {
    await expect(
      resolveOutbound('https://hooks.example/x', { allowPrivate: false, resolve: resolver(['8.8.8.8', '10.0.0.5']) }),
    ).rejects.toThrow(/10\.0\.0\.5/);
    const ok = await resolveOutbound('https://hooks.example/x', { allowPrivate: false, resolve: resolver(['8.8.8.8']) });
    expect(ok).toMatchObject({ address: '8.8.8.8', family: 4 });
    const lan = await resolveOutbound('http://hooks.example/x', { allowPrivate: true, resolve: resolver(['10.0.0.5']) });
    expect(lan.address).toBe('10.0.0.5');
  });

  it('refuses other schemes, credentials and names that do not resolve', async () => {
    await expect(resolveOutbound('file:///etc/passwd', { allowPrivate: true })).rejects.toThrow(/http/);
    await expect(resolveOutbound('https://u:p@8.8.8.8/', { allowPrivate: true })).rejects.toThrow(/password/);
    await expect(
      resolveOutbound('https://nowhere.example/', {
        allowPrivate: false,
        resolve: async () => {
          throw new Error('ENOTFOUND');
        },
      }),
    ).rejects.toThrow(/resolved/);
  });
});
