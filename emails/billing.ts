import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

/** Emails about a member's paid membership: welcome, payment failed, ended. */
export function paidWelcomeEmail(d: EmailLanguage & { brand: Brand; tierName: string }): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const tier = { tier: d.tierName };
  const thanks = tr.t('emails.paidWelcome.thanks', { site: d.brand.title });
  const manage = tr.t('emails.paidWelcome.manage');
  const bodyHtml = `<p><strong>${escapeHtml(thanks)}</strong></p>
<p>${tr.html('emails.paidWelcome.body', tier)}</p>
${button(`${d.brand.siteUrl}/posts`, tr.t('emails.paidWelcome.button'), d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">${escapeHtml(manage)} ${escapeHtml(d.brand.siteUrl)}/account</p>`;
  return {
    subject: tr.t('emails.paidWelcome.subject', tier),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.paidWelcome.preheader', tier), bodyHtml }),
    text: `${thanks}\n\n${tr.t('emails.paidWelcome.body', tier)}\n\n${tr.t('emails.paidWelcome.button')}: ${d.brand.siteUrl}/posts\n${manage} ${d.brand.siteUrl}/account\n`,
  };
}

export function paymentFailedEmail(d: EmailLanguage & { brand: Brand; tierName: string; graceDays: number }): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const grace = tr.t('emails.paymentFailed.grace', { days: d.graceDays });
  const bodyHtml = `<p>${tr.html('emails.paymentFailed.body', { tier: d.tierName })}</p>
<p>${escapeHtml(grace)}</p>
${button(`${d.brand.siteUrl}/account`, tr.t('emails.paymentFailed.button'), d.brand.accentColor)}`;
  return {
    subject: tr.t('emails.paymentFailed.subject'),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.paymentFailed.preheader'), bodyHtml }),
    text: `${tr.t('emails.paymentFailed.body', { tier: d.tierName })}\n\n${grace} ${d.brand.siteUrl}/account\n`,
  };
}

export function membershipEndedEmail(d: EmailLanguage & { brand: Brand; tierName: string }): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const comeBack = tr.t('emails.membershipEnded.comeBack');
  const bodyHtml = `<p>${tr.html('emails.membershipEnded.body', { tier: d.tierName })}</p>
<p>${escapeHtml(comeBack)}</p>
${button(`${d.brand.siteUrl}/account`, tr.t('emails.membershipEnded.button'), d.brand.accentColor)}`;
  return {
    subject: tr.t('emails.membershipEnded.subject', { tier: d.tierName }),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.membershipEnded.preheader'), bodyHtml }),
    text: `${tr.t('emails.membershipEnded.body', { tier: d.tierName })}\n\n${comeBack} ${d.brand.siteUrl}/account\n`,
  };
}

/** The trial's reminder before the first charge (TRIAL_REMINDER_DAYS before it ends). */
export function trialEndingEmail(
  d: EmailLanguage & {
    brand: Brand;
    tierName: string;
    trialEnd: string;
    amount: string;
    withCard: boolean;
  },
): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const key = d.withCard ? 'emails.trialEnding.charge' : 'emails.trialEnding.ends';
  const values = { date: d.trialEnd, amount: d.amount, tier: d.tierName };
  const change = tr.t('emails.trialEnding.change');
  const bodyHtml = `<p>${tr.html(key, values)}</p>
<p>${escapeHtml(change)}</p>
${button(`${d.brand.siteUrl}/account`, tr.t('emails.trialEnding.button'), d.brand.accentColor)}`;
  return {
    subject: tr.t('emails.trialEnding.subject', values),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.trialEnding.preheader', values), bodyHtml }),
    text: `${tr.t(key, values)}\n\n${change} ${d.brand.siteUrl}/account\n`,
  };
}

/** To the buyer of a gift, once paid. */
export function giftReceiptEmail(
  d: EmailLanguage & {
    brand: Brand;
    tierName: string;
    months: number;
    deliverOn: string;
    recipient: string | null;
  },
): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const values = { months: d.months, tier: d.tierName, recipient: d.recipient, date: d.deliverOn };
  const to = d.recipient ? 'emails.giftReceipt.toRecipient' : 'emails.giftReceipt.toBuyer';
  return {
    subject: tr.t('emails.giftReceipt.subject', values),
    html: layout(d.brand, {
      lang: frameLanguage(tr),
      preheader: tr.t('emails.giftReceipt.preheader'),
      bodyHtml: `<p>${tr.html('emails.giftReceipt.thanks', values)}</p><p>${tr.html(to, values)}</p>`,
    }),
    text: `${tr.t('emails.giftReceipt.thanks', values)}\n\n${tr.t(to, values)}\n`,
  };
}

/** The gift itself: the redeem link (to the recipient, or to the buyer to hand over). */
export function giftEmail(
  d: EmailLanguage & {
    brand: Brand;
    tierName: string;
    months: number;
    message: string;
    redeemUrl: string;
    forBuyer: boolean;
  },
): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const values = { months: d.months, tier: d.tierName, site: d.brand.title };
  const intro = d.forBuyer ? 'emails.gift.introBuyer' : 'emails.gift.intro';
  const message = d.message
    ? `<blockquote style="border-left:3px solid #d6d3d1;margin:16px 0;padding-left:12px;">${escapeHtml(d.message)}</blockquote>`
    : '';
  const redeem = tr.t('emails.gift.button');
  const once = tr.t('emails.gift.once');
  return {
    subject: tr.t(d.forBuyer ? 'emails.gift.subjectBuyer' : 'emails.gift.subject', values),
    html: layout(d.brand, {
      lang: frameLanguage(tr),
      preheader: tr.t('emails.gift.preheader'),
      bodyHtml: `<p>${tr.html(intro, values)}</p>${message}${button(d.redeemUrl, redeem, d.brand.accentColor)}<p style="font-size:14px;color:#57534e;">${escapeHtml(once)}</p>`,
    }),
    text: `${tr.t(intro, values)}\n\n${d.message ? `"${d.message}"\n\n` : ''}${redeem} (${once}) ${d.redeemUrl}\n`,
  };
}
