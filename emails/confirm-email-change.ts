import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

export function confirmEmailChangeEmail(d: EmailLanguage & { brand: Brand; link: string; newEmail: string }): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const ask = { email: d.newEmail, site: d.brand.title };
  const validity = tr.t('emails.emailChange.validity');
  const bodyHtml = `<p>${tr.html('emails.emailChange.body', ask)}</p>
${button(d.link, tr.t('emails.emailChange.button'), d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">${escapeHtml(validity)}</p>`;
  return {
    subject: tr.t('emails.emailChange.subject', { site: d.brand.title }),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.emailChange.preheader'), bodyHtml }),
    text: `${tr.t('emails.emailChange.body', ask)}\n\n${d.link}\n\n${validity}\n`,
  };
}
