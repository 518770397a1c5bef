import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/lib/http.ts';

describe('safeNext', () => {
  it.each([
    ['/admin/outbox', '/admin/outbox'],
    ['/admin/outbox?before=10', '/admin/outbox?before=10'],
    ['/admin', '/admin'],
  ])('keeps the local path %s', (value, expected) => {
    expect(safeNext(value, '/admin', '/admin')).toBe(expected);
  });

  it.each(['//evil.example/x', '/\\evil.example', '/\t/evil.example', '/\n', 'https://evil.example/admin', 'javascript:alert(1)', '/%0d%0aSet-Cookie:x', '', '/posts', 'admin'])(
    'refuses %j',
    (value) => {
      const next = safeNext(value, '/admin', '/admin');
      expect(next === '/admin' || next.startsWith('/admin')).toBe(true);
      expect(next).not.toMatch(/evil|[\t\n\r]/);
    },
  );
});
