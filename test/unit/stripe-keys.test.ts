import { describe, expect, it } from 'vitest';
import { emailCandidates } from '../../src/domain/billing/adopt.ts';
import { idempotencyKey } from '../../src/lib/stripe.ts';

describe('idempotencyKey', () => {
  it('is the same for the same parameters in any key order, and differs when any parameter differs', () => {
    const a = idempotencyKey('checkout-7-100', { success_url: 'https://x/posts/a', line_items: [{ price: 'price_1', quantity: 1 }] });
    const b = idempotencyKey('checkout-7-100', { line_items: [{ quantity: 1, price: 'price_1' }], success_url: 'https://x/posts/a' });
    const c = idempotencyKey('checkout-7-100', { success_url: 'https://x/account', line_items: [{ price: 'price_1', quantity: 1 }] });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^checkout-7-100-[\w-]{32}$/);
    expect(idempotencyKey('x', { a: undefined })).toBe(idempotencyKey('x', {}));
    expect(idempotencyKey('x'.repeat(400), {}).length).toBeLessThanOrEqual(255);
  });
});

describe('emailCandidates', () => {
  it('gives the lower-case address with its domain in both forms', () => {
    expect(emailCandidates(' Bob@BÜCHER.de ').sort()).toEqual(['bob@bücher.de', 'bob@xn--bcher-kva.de']);
    expect(emailCandidates('ann@xn--bcher-kva.de').sort()).toEqual(['ann@bücher.de', 'ann@xn--bcher-kva.de']);
    expect(emailCandidates('Plain@Example.com')).toEqual(['plain@example.com']);
  });
});
