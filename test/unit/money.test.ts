import { describe, expect, it } from 'vitest';
import { formatMoney, minorUnitDigits } from '../../src/lib/i18n.ts';
import { money } from '../../src/web/stripe-pages.ts';
import { money as statsMoney } from '../../src/pages/admin/stats/_format.ts';

/** Intl puts a (narrow) no-break space in French amounts: compare with plain spaces. */
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');

describe('money in Stripe minor units', () => {
  it('counts minor units as Stripe does: 2 decimals, none for JPY/KRW, 3 for KWD/BHD', () => {
    expect([minorUnitDigits('usd'), minorUnitDigits('EUR'), minorUnitDigits('jpy'), minorUnitDigits('KRW')]).toEqual([2, 2, 0, 0]);
    expect([minorUnitDigits('kwd'), minorUnitDigits('bhd'), minorUnitDigits('isk'), minorUnitDigits('huf')]).toEqual([3, 3, 2, 2]);
  });

  it('writes an amount in the language and the currency: the billing pages’ money() is the shared formatter', () => {
    expect(money('en', 1234, 'usd')).toBe('$12.34');
    expect(plain(money('fr', 1234, 'eur'))).toBe('12,34 €');
    expect(plain(money('fr', 123456, 'usd'))).toBe('1 234,56 $US');
    // Zero-decimal: 1234 is ¥1,234, not ¥12.
    expect(money('en', 1234, 'jpy')).toBe('¥1,234');
    expect(plain(money('fr', 5000, 'krw'))).toBe('5 000 ₩');
    // Three-decimal: 1234 fils is 1.234 dinars.
    expect(plain(money('en', 1234, 'kwd'))).toBe('KWD 1.234');
    expect(plain(money('fr', 1500, 'bhd'))).toBe('1,500 BHD');
    // Stripe keeps ISK and HUF two-decimal (100 is 1 króna) though the language writes no decimals.
    expect(plain(formatMoney('en', 50000, 'isk'))).toBe('ISK 500');
    expect(plain(formatMoney('fr', 150000, 'huf'))).toBe('1 500 HUF');
    expect(money('en', 600, null)).toBe('$6.00');
  });

  it('the stats pages use the same minor units', () => {
    expect(statsMoney(1234, 'jpy')).toBe('¥1,234');
    expect(statsMoney(1234, 'usd')).toBe('$12.34');
    expect(statsMoney(1234)).toBe('12.34');
  });
});
