import { formatMoney } from '../../../lib/i18n.ts';

/** Number formats of the stats pages. */
export const pct = (v: number | null) => (v === null ? '—' : `${Math.round(v * 1000) / 10}%`);
/**
 * An amount in minor units; with a currency (the paid tiers' ISO code), shown as money by the shared
 * formatter ("$1,234.00", "¥1,234": Stripe's minor units per currency); without one, as a number.
 */
export const money = (cents: number, currency?: string | null) =>
  currency
    ? formatMoney('en', cents, currency)
    : (cents / 100).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** The currency the site charges in: its first paid tier's (every paid tier shares it in practice). */
export const siteCurrency = (tiers: Array<{ paid: boolean; currency: string | null }>) =>
  tiers.find((t) => t.paid && t.currency)?.currency ?? null;
export const signed = (v: number) => (v > 0 ? `+${v}` : String(v));
