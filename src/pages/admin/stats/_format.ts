/** Number formats of the stats pages. */
export const pct = (v: number | null) => (v === null ? '—' : `${Math.round(v * 1000) / 10}%`);
export const money = (cents: number) => (cents / 100).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const signed = (v: number) => (v > 0 ? `+${v}` : String(v));
