import { formatDate } from '../src/lib/i18n.ts';
import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';
import type { Translator } from '../src/lib/i18n.ts';

/** A member's referrals reached a milestone: what they earned, and what comes next. */
export type MilestoneReward =
  | { kind: 'comp'; tierName: string; days: number; until: Date }
  | { kind: 'comp_banked'; tierName: string; days: number }
  | { kind: 'manual' };

export interface ReferralMilestoneData extends EmailLanguage {
  brand: Brand;
  name: string | null;
  referrals: number;
  description: string;
  reward: MilestoneReward;
  referralUrl: string;
  next: { threshold: number; description: string } | null;
  /** The site's time zone, for the date a comp ends. */
  timeZone?: string | undefined;
}

export function rewardLine(tr: Translator, reward: MilestoneReward, timeZone: string): string {
  switch (reward.kind) {
    case 'comp':
      return tr.t('emails.milestone.comp', { tier: reward.tierName, date: formatDate(tr.lang, reward.until, timeZone) });
    case 'comp_banked':
      return tr.t('emails.milestone.banked', { tier: reward.tierName, days: reward.days });
    case 'manual':
      return tr.t('emails.milestone.manual');
  }
}

export function referralMilestoneEmail(d: ReferralMilestoneData): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const hello = d.name ? tr.t('emails.milestone.helloNamed', { name: d.name }) : tr.t('emails.milestone.hello');
  const line = rewardLine(tr, d.reward, d.timeZone ?? 'UTC');
  const joined = tr.t('emails.milestone.joined', { count: d.referrals, site: d.brand.title });
  const next = d.next ? tr.t('emails.milestone.next', { count: d.next.threshold, description: d.next.description }) : '';
  const link = tr.t('emails.milestone.link');
  const see = tr.t('emails.milestone.button');
  const bodyHtml = `<p>${escapeHtml(hello)}</p>
<p><strong>${escapeHtml(joined)}</strong></p>
<p>${tr.html('emails.milestone.reached', { description: d.description })} ${escapeHtml(line)}</p>
${next ? `<p>${escapeHtml(next)}</p>` : ''}
<p>${escapeHtml(link)} <a href="${escapeHtml(d.referralUrl)}">${escapeHtml(d.referralUrl)}</a></p>
${button(`${d.brand.siteUrl}/account`, see, d.brand.accentColor)}`;
  return {
    subject: tr.t('emails.milestone.subject', { description: d.description }),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.milestone.preheader', { count: d.referrals }), bodyHtml }),
    text: `${hello}\n\n${joined}\n\n${tr.t('emails.milestone.reached', { description: d.description })} ${line}\n${next ? `\n${next}\n` : ''}\n${link} ${d.referralUrl}\n${see}: ${d.brand.siteUrl}/account\n`,
  };
}
