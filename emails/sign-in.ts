import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

export interface SignInData extends EmailLanguage {
  brand: Brand;
  link: string;
  code: string;
  /** True when this sign-in will also make them a (free) member. */
  newMember: boolean;
}

export function signInEmail(d: SignInData): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const intro = tr.t(d.newMember ? 'emails.signin.introNew' : 'emails.signin.intro', { site: d.brand.title });
  const validity = tr.t('emails.signin.validity');
  const big = (chunks: string[]) => `<strong style="font-size:22px;letter-spacing:4px;">${chunks.join('')}</strong>`;
  const bodyHtml = `<p>${escapeHtml(intro)}</p>
${button(d.link, tr.t('emails.signin.button'), d.brand.accentColor)}
<p>${tr.html('emails.signin.code', { code: d.code }, { big })}</p>
<p style="font-size:14px;color:#57534e;">${escapeHtml(validity)}</p>`;
  return {
    subject: tr.t('emails.signin.subject', { site: d.brand.title }),
    html: layout(d.brand, { lang: frameLanguage(tr), preheader: tr.t('emails.signin.preheader', { code: d.code }), bodyHtml }),
    text: `${intro}\n\n${d.link}\n\n${tr.t('emails.signin.codeText', { code: d.code })}\n\n${validity}\n`,
  };
}
