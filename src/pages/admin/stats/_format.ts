/** Number formats of the stats pages. */
export const pct = (v: number | null) => (v === null ? '—' : `${Math.round(v * 1000) / 10}%`);
/** An amount in minor units; with a currency (the paid tiers' ISO code), shown as money: "$1,234.00". */
export const money = (cents: number, currency?: string | null) =>
  currency
    ? (cents / 100).toLocaleString('en', { style: 'currency', currency: currency.toUpperCase() })
    : (cents / 100).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** The currency the site charges in: its first paid tier's (every paid tier shares it in practice). */
export const siteCurrency = (tiers: Array<{ paid: boolean; currency: string | null }>) =>
  tiers.find((t) => t.paid && t.currency)?.currency ?? null;
export const signed = (v: number) => (v > 0 ? `+${v}` : String(v));
