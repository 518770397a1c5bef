import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

export interface ConfirmSubscriptionData extends EmailLanguage {
  brand: Brand;
  name: string | null;
  newsletters: string[];
  confirmUrl: string;
  validDays: number;
}

/** The double opt-in email: one button, what they asked for, and what happens if they ignore it. */
export function confirmSubscriptionEmail(d: ConfirmSubscriptionData): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const list = d.newsletters.length > 0 ? d.newsletters.join(', ') : d.brand.title;
  const greeting = d.name ? tr.t('emails.hi', { name: d.name }) : tr.t('emails.hiAnonymous');
  const ask = { list, site: d.brand.title };
  const validity = tr.t('emails.confirm.validity', { days: d.validDays });
  const bodyHtml = `<p>${escapeHtml(greeting)}</p>
<p>${tr.html('emails.confirm.body', ask)}</p>
${button(d.confirmUrl, tr.t('emails.confirm.button'), d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">${escapeHtml(tr.t('emails.confirm.paste'))} <br><a href="${escapeHtml(d.confirmUrl)}" style="color:#57534e;word-break:break-all;">${escapeHtml(d.confirmUrl)}</a></p>
<p style="font-size:14px;color:#57534e;">${escapeHtml(validity)}</p>`;
  const text = `${greeting}

${tr.t('emails.confirm.body', ask)}

${d.confirmUrl}

${validity}
`;
  return {
    subject: tr.t('emails.confirm.subject', { site: d.brand.title }),
    html: layout(d.brand, {
      lang: frameLanguage(tr),
      preheader: tr.t('emails.confirm.preheader', { list }),
      bodyHtml,
      footerHtml: tr.html('emails.confirm.footer', { siteUrl: d.brand.siteUrl }),
    }),
    text,
  };
}
