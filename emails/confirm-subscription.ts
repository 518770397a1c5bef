import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export interface ConfirmSubscriptionData {
  brand: Brand;
  name: string | null;
  newsletters: string[];
  confirmUrl: string;
  validDays: number;
}

/** The double opt-in email: one button, what they asked for, and what happens if they ignore it. */
export function confirmSubscriptionEmail(d: ConfirmSubscriptionData): RenderedEmail {
  const list = d.newsletters.length > 0 ? d.newsletters.join(', ') : d.brand.title;
  const greeting = d.name ? `Hi ${d.name},` : 'Hi,';
  const subject = `Confirm your subscription to ${d.brand.title}`;
  const bodyHtml = `<p>${escapeHtml(greeting)}</p>
<p>Please confirm that you want to receive <strong>${escapeHtml(list)}</strong> from ${escapeHtml(d.brand.title)}.</p>
${button(d.confirmUrl, 'Yes, subscribe me', d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">Or paste this link into your browser: <br><a href="${escapeHtml(d.confirmUrl)}" style="color:#57534e;word-break:break-all;">${escapeHtml(d.confirmUrl)}</a></p>
<p style="font-size:14px;color:#57534e;">The link works for ${d.validDays} days. If you did not ask for this, ignore this email: you will not hear from us again.</p>`;
  const text = `${greeting}

Please confirm that you want to receive ${list} from ${d.brand.title}:

${d.confirmUrl}

The link works for ${d.validDays} days. If you did not ask for this, ignore this email: you will not hear from us again.
`;
  return {
    subject,
    html: layout(d.brand, {
      preheader: `One click to confirm ${list}.`,
      bodyHtml,
      footerHtml: `You received this because someone entered this address at ${escapeHtml(d.brand.siteUrl)}.`,
    }),
    text,
  };
}
