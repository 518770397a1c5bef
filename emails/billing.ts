import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

/** Emails about a member's paid membership: welcome, payment failed, ended. */
export function paidWelcomeEmail(d: { brand: Brand; tierName: string }): RenderedEmail {
  const bodyHtml = `<p><strong>Thank you for supporting ${escapeHtml(d.brand.title)}!</strong></p>
<p>You are now a <strong>${escapeHtml(d.tierName)}</strong> member: every post for ${escapeHtml(d.tierName)} members is yours to read.</p>
${button(`${d.brand.siteUrl}/posts`, 'Read the latest posts', d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">Manage your membership and billing from your account: ${escapeHtml(d.brand.siteUrl)}/account</p>`;
  return {
    subject: `Welcome, ${d.tierName} member`,
    html: layout(d.brand, { preheader: `You are now a ${d.tierName} member.`, bodyHtml }),
    text: `Thank you for supporting ${d.brand.title}!\n\nYou are now a ${d.tierName} member.\n\nRead the latest posts: ${d.brand.siteUrl}/posts\nManage your membership and billing: ${d.brand.siteUrl}/account\n`,
  };
}

export function paymentFailedEmail(d: { brand: Brand; tierName: string; graceDays: number }): RenderedEmail {
  const bodyHtml = `<p>Your last payment for your <strong>${escapeHtml(d.tierName)}</strong> membership did not go through.</p>
<p>You keep your access for ${d.graceDays} days while we try again. Updating your card takes a minute:</p>
${button(`${d.brand.siteUrl}/account`, 'Update my card', d.brand.accentColor)}`;
  return {
    subject: 'Your payment did not go through',
    html: layout(d.brand, { preheader: 'Update your card to keep your membership.', bodyHtml }),
    text: `Your last payment for your ${d.tierName} membership did not go through.\n\nYou keep your access for ${d.graceDays} days while we try again. Update your card from your account: ${d.brand.siteUrl}/account\n`,
  };
}

export function membershipEndedEmail(d: { brand: Brand; tierName: string }): RenderedEmail {
  const bodyHtml = `<p>Your <strong>${escapeHtml(d.tierName)}</strong> membership has ended. You stay subscribed to our free letters.</p>
<p>Thank you for your support. If you want to come back, it is one click away:</p>
${button(`${d.brand.siteUrl}/account`, 'Rejoin', d.brand.accentColor)}`;
  return {
    subject: `Your ${d.tierName} membership has ended`,
    html: layout(d.brand, { preheader: 'Thank you for your support.', bodyHtml }),
    text: `Your ${d.tierName} membership has ended. You stay subscribed to our free letters.\n\nRejoin any time: ${d.brand.siteUrl}/account\n`,
  };
}

/** The trial's reminder before the first charge (TRIAL_REMINDER_DAYS before it ends). */
export function trialEndingEmail(d: {
  brand: Brand;
  tierName: string;
  trialEnd: string;
  amount: string;
  withCard: boolean;
}): RenderedEmail {
  const what = d.withCard
    ? `your card will be charged <strong>${escapeHtml(d.amount)}</strong> for your ${escapeHtml(d.tierName)} membership`
    : `your ${escapeHtml(d.tierName)} membership ends unless you add a card`;
  const whatText = d.withCard
    ? `your card will be charged ${d.amount} for your ${d.tierName} membership`
    : `your ${d.tierName} membership ends unless you add a card`;
  const bodyHtml = `<p>Your free trial ends on <strong>${escapeHtml(d.trialEnd)}</strong>. On that day ${what}.</p>
<p>Nothing to do if you want to stay. To change or cancel, go to your account:</p>
${button(`${d.brand.siteUrl}/account`, 'My account', d.brand.accentColor)}`;
  return {
    subject: `Your free trial ends on ${d.trialEnd}`,
    html: layout(d.brand, { preheader: `Your trial ends on ${d.trialEnd}.`, bodyHtml }),
    text: `Your free trial ends on ${d.trialEnd}. On that day ${whatText}.\n\nTo change or cancel: ${d.brand.siteUrl}/account\n`,
  };
}

/** To the buyer of a gift, once paid. */
export function giftReceiptEmail(d: {
  brand: Brand;
  tierName: string;
  months: number;
  deliverOn: string;
  recipient: string | null;
}): RenderedEmail {
  const to = d.recipient
    ? `We will email the gift to <strong>${escapeHtml(d.recipient)}</strong> on ${escapeHtml(d.deliverOn)}.`
    : `We will email you the redeem link on ${escapeHtml(d.deliverOn)}, for you to hand over.`;
  const toText = d.recipient
    ? `We will email the gift to ${d.recipient} on ${d.deliverOn}.`
    : `We will email you the redeem link on ${d.deliverOn}, for you to hand over.`;
  const months = d.months === 1 ? '1 month' : `${d.months} months`;
  return {
    subject: `Your gift of ${months} of ${d.tierName}`,
    html: layout(d.brand, {
      preheader: 'Thank you for your gift.',
      bodyHtml: `<p><strong>Thank you!</strong> Your gift of ${months} of ${escapeHtml(d.tierName)} membership is paid.</p><p>${to}</p>`,
    }),
    text: `Thank you! Your gift of ${months} of ${d.tierName} membership is paid.\n\n${toText}\n`,
  };
}

/** The gift itself: the redeem link (to the recipient, or to the buyer to hand over). */
export function giftEmail(d: {
  brand: Brand;
  tierName: string;
  months: number;
  message: string;
  redeemUrl: string;
  forBuyer: boolean;
}): RenderedEmail {
  const months = d.months === 1 ? '1 month' : `${d.months} months`;
  const intro = d.forBuyer
    ? `Here is the gift you bought: ${months} of ${escapeHtml(d.tierName)} membership. Hand this link to its recipient.`
    : `Someone gave you ${months} of <strong>${escapeHtml(d.tierName)}</strong> membership of ${escapeHtml(d.brand.title)}.`;
  const introText = d.forBuyer
    ? `Here is the gift you bought: ${months} of ${d.tierName} membership. Hand this link to its recipient.`
    : `Someone gave you ${months} of ${d.tierName} membership of ${d.brand.title}.`;
  const message = d.message
    ? `<blockquote style="border-left:3px solid #d6d3d1;margin:16px 0;padding-left:12px;">${escapeHtml(d.message)}</blockquote>`
    : '';
  return {
    subject: d.forBuyer ? `Your gift link for ${d.tierName}` : `A gift for you: ${months} of ${d.tierName}`,
    html: layout(d.brand, {
      preheader: 'A gift membership.',
      bodyHtml: `<p>${intro}</p>${message}${button(d.redeemUrl, 'Redeem the gift', d.brand.accentColor)}<p style="font-size:14px;color:#57534e;">The link works once.</p>`,
    }),
    text: `${introText}\n\n${d.message ? `"${d.message}"\n\n` : ''}Redeem the gift (the link works once): ${d.redeemUrl}\n`,
  };
}
