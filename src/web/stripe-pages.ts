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

export const money = (minor: number, currency: string | null) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: (currency ?? 'usd').toUpperCase() }).format(minor / 100);
