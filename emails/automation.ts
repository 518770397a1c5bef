import { escapeHtml, layout, type Brand } from './html.ts';
import { compile, htmlToText, inlineStyles, marker, type CompiledEmail, type Slot } from './post.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';

/**
 * An automation's own email (domain/automations): a subject, an optional preheader and a body
 * written in Markdown, in the brand's frame (html.ts) with the same inline styles and the same
 * per-member slots as a post's email (post.ts), so one rendering serves every member and the
 * send engine's payload code (sending/payload.ts) personalises it.
 *
 * Variables in the body: {{name}}, {{unsubscribe_url}}, {{preferences_url}}, {{referral_url}},
 * {{site_url}}; a line {{referral}} becomes the reader's referral block, as in a post.
 */
export interface AutomationEmailInput extends EmailLanguage {
  brand: Brand;
  subject: string;
  preheader: string | null;
  /** The body as safe HTML from the Markdown renderer. */
  bodyHtml: string;
}

const VARIABLES: Record<string, Slot> = {
  name: 'name',
  unsubscribe_url: 'unsubscribe_url',
  preferences_url: 'preferences_url',
  referral_url: 'referral_url',
};

/** The variables written in the body; an unknown one is left as written. */
export const AUTOMATION_VARIABLES = [...Object.keys(VARIABLES), 'site_url', 'referral'] as const;

const clean = (s: string) => s.replace(/\u0001/g, '');

function fillVariables(html: string, siteUrl: string): string {
  // The Markdown renderer may percent-encode braces inside a link's address.
  return html.replace(/(?:\{\{|%7B%7B)\s*([a-z_]+)\s*(?:\}\}|%7D%7D)/gi, (whole, name: string) => {
    const key = name.toLowerCase();
    if (key === 'site_url') return escapeHtml(siteUrl);
    const slot = VARIABLES[key];
    return slot ? marker(slot) : whole;
  });
}

export function renderAutomationEmail(input: AutomationEmailInput): CompiledEmail {
  const brand = { ...input.brand, title: clean(input.brand.title) };
  const accent = brand.accentColor;
  const tr = emailTranslator(input.lang);
  const site = { site: brand.title };
  const referral = `<div style="margin:24px 0;padding:16px;background:#f5f5f4;border-radius:8px;"><p style="margin:0 0 8px 0;font-weight:600;">${tr.html('emails.referral.title', site)}</p><p style="margin:0;">${tr.html('emails.referral.share')} <a href="${marker('referral_url')}" style="color:${accent};">${marker('referral_url')}</a></p></div>`;
  const bodyHtml = fillVariables(clean(input.bodyHtml), brand.siteUrl).replace(/<p[^>]*>\{\{referral\}\}<\/p>/g, () => referral);
  const body = inlineStyles(bodyHtml, accent, brand.siteUrl);
  const html = layout(brand, {
    lang: frameLanguage(tr),
    preheader: clean(input.preheader ?? ''),
    bodyHtml: body,
    footerHtml: `${tr.html('emails.footer.subscribed', site)} <a href="${marker('preferences_url')}" style="color:#78716c;">${tr.html('emails.footer.preferences')}</a> · <a href="${marker('unsubscribe_url')}" style="color:#78716c;">${tr.html('emails.footer.unsubscribe')}</a>`,
  });
  const text = `${htmlToText(bodyHtml).replace(/^\{\{referral\}\}$/gm, () => `${tr.t('emails.referral.share')} ${marker('referral_url')}`)}\n\n--\n${tr.t('emails.footer.preferences')}: ${marker('preferences_url')}\n${tr.t('emails.footer.unsubscribe')}: ${marker('unsubscribe_url')}\n`;
  return { subject: clean(input.subject), html: compile(html), text: compile(text) };
}
