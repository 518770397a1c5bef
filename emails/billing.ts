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
