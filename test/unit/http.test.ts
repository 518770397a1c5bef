import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/web/http.ts';

describe('safeNext', () => {
  it.each([
    ['/admin/outbox', '/admin/outbox'],
    ['/admin/outbox?before=10', '/admin/outbox?before=10'],
    ['/admin', '/admin'],
  ])('keeps the local path %s', (value, expected) => {
    expect(safeNext(value, '/admin', '/admin')).toBe(expected);
  });

  it.each([
    '//evil.example/x',
    '/\\evil.example',
    '/\t/evil.example',
    '/\n',
    'https://evil.example/admin',
    'javascript:alert(1)',
    '/%0d%0aSet-Cookie:x',
    '',
    '/posts',
    'admin',
  ])('refuses %j', (value) => {
    const next = safeNext(value, '/admin', '/admin');
    expect(next === '/admin' || next.startsWith('/admin')).toBe(true);
    expect(next).not.toMatch(/evil|[\t\n\r]/);
  });
});

describe('withoutAddresses', () => {
  it('keeps provider messages but drops the addresses they quote', async () => {
    const { withoutAddresses } = await import('../../src/worker.ts');
    expect(withoutAddresses('Invalid `to` field: Ann.Smith+news@example.co.uk, please check')).toBe(
      'Invalid `to` field: <address>, please check',
    );
    expect(withoutAddresses('rate limited')).toBe('rate limited');
  });
});
