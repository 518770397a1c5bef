import { UNMATCHED_REASONS, type AdoptionReport } from '../domain/billing/adopt.ts';

/** What `stripe:sync` prints: the counts, then each unmatched subscription and each customer without one. */
export function formatSyncReport(id: string, r: AdoptionReport): string {
  const lines = [
    `stripe:sync ${id}: ${r.subscriptions} subscriptions on ${r.prices.length} tier prices: ` +
      `${r.linked} linked, ${r.unchanged} already linked, ${r.unmatchedTotal} unmatched (${r.byEmail} matched by email)`,
  ];
  if (r.unmatchedTotal > 0) {
    lines.push('', 'unmatched subscriptions (subscription, customer, email, tier, status: reason):');
    for (const u of r.unmatched)
      lines.push(`  ${u.subscription} ${u.customer} ${u.email ?? '-'} ${u.tier} ${u.status}: ${UNMATCHED_REASONS[u.reason]}`);
    if (r.unmatchedTotal > r.unmatched.length) lines.push(`  … and ${r.unmatchedTotal - r.unmatched.length} more`);
  }
  if (r.withoutSubscriptionTotal > 0) {
    lines.push(
      '',
      "members with a Stripe customer, or paying through Stripe, but no subscription on a tier's price (member, email, customer):",
    );
    for (const m of r.withoutSubscription) lines.push(`  ${m.memberId} ${m.email} ${m.customer ?? '-'}`);
    if (r.withoutSubscriptionTotal > r.withoutSubscription.length)
      lines.push(`  … and ${r.withoutSubscriptionTotal - r.withoutSubscription.length} more`);
  }
  return lines.join('\n') + '\n';
}
