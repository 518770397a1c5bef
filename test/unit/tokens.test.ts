import { describe, expect, it } from 'vitest';
import { hashToken, randomToken, safeEqual, sign, verify } from '../../src/lib/tokens.ts';

const SECRET = 'unit-secret-0123456789abcdef0123456789';

describe('signed tokens', () => {
  it('round-trips a payload', () => {
    expect(verify(SECRET, 'confirm', sign(SECRET, 'confirm', '{"m":42}'))).toBe('{"m":42}');
  });

  it('refuses a token signed for another purpose or with another secret', () => {
    const token = sign(SECRET, 'confirm', '42');
    expect(verify(SECRET, 'unsubscribe', token)).toBeNull();
    expect(verify(SECRET + 'x', 'confirm', token)).toBeNull();
  });

  it('refuses any single-character change and malformed tokens', () => {
    const token = sign(SECRET, 'confirm', 'member:42');
    for (let i = 0; i < token.length; i++) {
      const ch = token[i] === 'A' ? 'B' : 'A';
      const tampered = token.slice(0, i) + ch + token.slice(i + 1);
      if (tampered === token) continue;
      expect(verify(SECRET, 'confirm', tampered)).toBeNull();
    }
    for (const bad of ['', '.', 'abc', '.abc', 'abc.', 'a.b.c']) expect(verify(SECRET, 'confirm', bad)).toBeNull();
  });

  it('hashes tokens without keeping them and makes unique random ones', () => {
    const t = randomToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hashToken(t)).not.toContain(t);
    expect(hashToken(t)).toBe(hashToken(t));
    expect(new Set(Array.from({ length: 1000 }, () => randomToken())).size).toBe(1000);
  });

  it('compares in constant time and handles different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
