import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

/** A member's referrals reached a milestone: what they earned, and what comes next. */
export type MilestoneReward =
  | { kind: 'comp'; tierName: string; days: number; until: Date }
  | { kind: 'comp_banked'; tierName: string; days: number }
  | { kind: 'manual' };

export interface ReferralMilestoneData {
  brand: Brand;
  name: string | null;
  referrals: number;
  description: string;
  reward: MilestoneReward;
  referralUrl: string;
  next: { threshold: number; description: string } | null;
}

const day = (d: Date) => d.toLocaleDateString('en', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const friends = (n: number) => (n === 1 ? '1 friend' : `${n} friends`);

function rewardLine(reward: MilestoneReward): string {
  switch (reward.kind) {
    case 'comp':
      return `Your ${reward.tierName} membership is on us until ${day(reward.until)}: nothing to do, it is already active.`;
    case 'comp_banked':
      return `${reward.days} days of ${reward.tierName} membership are yours: they start when your current membership ends, so you lose nothing.`;
    case 'manual':
      return 'We will be in touch about your reward.';
  }
}

export function referralMilestoneEmail(d: ReferralMilestoneData): RenderedEmail {
  const hello = d.name ? `Hello ${d.name},` : 'Hello,';
  const line = rewardLine(d.reward);
  const next = d.next ? `Next: at ${friends(d.next.threshold)}, ${d.next.description}.` : '';
  const bodyHtml = `<p>${escapeHtml(hello)}</p>
<p><strong>${escapeHtml(friends(d.referrals))} joined ${escapeHtml(d.brand.title)} through your link. Thank you!</strong></p>
<p>You reached a milestone: <strong>${escapeHtml(d.description)}</strong>. ${escapeHtml(line)}</p>
${next ? `<p>${escapeHtml(next)}</p>` : ''}
<p>Your link, to share with anyone who would enjoy it: <a href="${escapeHtml(d.referralUrl)}">${escapeHtml(d.referralUrl)}</a></p>
${button(`${d.brand.siteUrl}/account`, 'See your referrals', d.brand.accentColor)}`;
  return {
    subject: `You reached a milestone: ${d.description}`,
    html: layout(d.brand, { preheader: `${friends(d.referrals)} joined through your link.`, bodyHtml }),
    text: `${hello}\n\n${friends(d.referrals)} joined ${d.brand.title} through your link. Thank you!\n\nYou reached a milestone: ${d.description}. ${line}\n${next ? `\n${next}\n` : ''}\nYour link: ${d.referralUrl}\nSee your referrals: ${d.brand.siteUrl}/account\n`,
  };
}
