import { escapeHtml, layout, type Brand } from './html.ts';
import { compile, htmlToText, inlineStyles, marker, type CompiledEmail, type Slot } from './post.ts';

/**
 * An automation's own email (domain/automations): a subject, an optional preheader and a body
 * written in Markdown, in the brand's frame (html.ts) with the same inline styles and the same
 * per-member slots as a post's email (post.ts), so one rendering serves every member and the
 * send engine's payload code (sending/payload.ts) personalises it.
 *
 * Variables in the body: {{name}}, {{unsubscribe_url}}, {{preferences_url}}, {{referral_url}},
 * {{site_url}}; a line {{referral}} becomes the reader's referral block, as in a post.
 */
export interface AutomationEmailInput {
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
  const referral = `<div style="margin:24px 0;padding:16px;background:#f5f5f4;border-radius:8px;"><p style="margin:0 0 8px 0;font-weight:600;">Know someone who would enjoy ${escapeHtml(brand.title)}?</p><p style="margin:0;">Share your own link: <a href="${marker('referral_url')}" style="color:${accent};">${marker('referral_url')}</a></p></div>`;
  const bodyHtml = fillVariables(clean(input.bodyHtml), brand.siteUrl).replace(/<p[^>]*>\{\{referral\}\}<\/p>/g, () => referral);
  const body = inlineStyles(bodyHtml, accent, brand.siteUrl);
  const html = layout(brand, {
    preheader: clean(input.preheader ?? ''),
    bodyHtml: body,
    footerHtml: `You get this because you subscribed to ${escapeHtml(brand.title)}. <a href="${marker('preferences_url')}" style="color:#78716c;">Preferences</a> · <a href="${marker('unsubscribe_url')}" style="color:#78716c;">Unsubscribe</a>`,
  });
  const text = `${htmlToText(bodyHtml).replace(/^\{\{referral\}\}$/gm, () => `Share your own link: ${marker('referral_url')}`)}\n\n--\nPreferences: ${marker('preferences_url')}\nUnsubscribe: ${marker('unsubscribe_url')}\n`;
  return { subject: clean(input.subject), html: compile(html), text: compile(text) };
}
