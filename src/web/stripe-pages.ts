import { formatMoney } from '../lib/i18n.ts';
import type { AstroGlobal } from 'astro';

/**
 * A page whose form ends on Stripe's pages (a redirect after the POST): the default form-action
 * 'self' would block it, so such a page allows Stripe's hosted origins (and the test server's).
 */
export function allowStripeForms(Astro: AstroGlobal, apiBase: string | undefined): void {
  const origins = ['https://checkout.stripe.com', 'https://billing.stripe.com', ...(apiBase ? [new URL(apiBase).origin] : [])];
  Astro.response.headers.set(
    'content-security-policy',
    `default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self' ${origins.join(' ')}`,
  );
}

/**
 * An amount in a currency's minor unit (Stripe's: 1234 is $12.34 but ¥1,234) in a language: the
 * shared formatter (lib/i18n.ts formatMoney). The admin's pages are English; a reader's page
 * passes the reader's language (web/reader-text.ts readerMoney).
 */
export const money = (lang: string, minor: number, currency: string | null | undefined) => formatMoney(lang, minor, currency ?? 'usd');
