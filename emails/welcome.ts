import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

export interface WelcomeData extends EmailLanguage {
  brand: Brand;
  name: string | null;
  newsletters: string[];
  preferencesUrl: string;
}

export function welcomeEmail(d: WelcomeData): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const greeting = d.name ? tr.t('emails.welcome.greetingNamed', { name: d.name }) : tr.t('emails.welcome.greeting');
  const list = d.newsletters.length > 0 ? d.newsletters.join(', ') : d.brand.title;
  const bodyHtml = `<p><strong>${escapeHtml(greeting)}</strong></p>
<p>${tr.html('emails.welcome.subscribed', { list })}</p>
<p>${escapeHtml(tr.t('emails.welcome.reply'))}</p>
${button(d.brand.siteUrl, tr.t('emails.welcome.visit', { site: d.brand.title }), d.brand.accentColor)}`;
  const text = `${greeting}

${tr.t('emails.welcome.subscribed', { list })}

${tr.t('emails.welcome.reply')}

${d.brand.siteUrl}

${tr.t('emails.welcome.preferences')}: ${d.preferencesUrl}
`;
  return {
    subject: tr.t('emails.welcome.subject', { site: d.brand.title }),
    html: layout(d.brand, {
      lang: frameLanguage(tr),
      preheader: tr.t('emails.welcome.preheader', { list }),
      bodyHtml,
      footerHtml: `<a href="${escapeHtml(d.preferencesUrl)}" style="color:#78716c;">${escapeHtml(tr.t('emails.welcome.preferences'))}</a>`,
    }),
    text,
  };
}
