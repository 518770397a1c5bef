import { randomBytes } from 'node:crypto';
import {
  CONTENT_WIDTH,
  DEFAULT_DESIGN,
  EMAIL_WIDTH,
  FONT_STACKS,
  HEX_COLOR,
  fitWithin,
  lighten,
  type ButtonStyle,
  type Design,
  type SizedImage,
} from './design.ts';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The reverse of escapeHtml (the five entities it writes, and those of our Markdown renderer). */
export function unescapeHtml(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export interface Brand {
  title: string;
  accentColor: string;
  siteUrl: string;
  /** The brand's design (emails/design.ts); what is absent takes its default. */
  design?: Partial<Design> | undefined;
  /** The logo uploaded to this site, with its real size (a site path or an absolute URL). */
  logo?: SizedImage | undefined;
  /** The sender's postal address, printed in every email's footer (anti-spam laws ask for one). */
  postalAddress?: string | undefined;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface LayoutOptions {
  /** The inbox's preview line (hidden in the email itself). */
  preheader: string;
  bodyHtml: string;
  footerHtml?: string;
  /** The web address of this email, for the "View in your browser" link (posts). */
  webUrl?: string;
  /** That link's text, in the reader's language (English when left out). */
  viewInBrowserLabel?: string;
  /** The email's language (the `lang` and `dir` of its <html>); English, left to right, when left out. */
  lang?: { code: string; dir: 'ltr' | 'rtl' };
}

/**
 * The shared frame of Hearth's emails, built to hold in every inbox:
 * - a 600-pixel card as a table with `width` attributes, fluid below 600 (`width:100%;
 *   max-width:600px`), inside a ghost table for Outlook for Windows (MSO conditionals), which
 *   ignores max-width;
 * - inline styles everywhere (Gmail's apps drop <style> for some accounts); the one <style> block
 *   only adds dark mode and the narrow-screen padding, so a client that drops it loses nothing
 *   the layout needs;
 * - dark mode by design: `color-scheme: light dark` in meta and CSS, a `prefers-color-scheme`
 *   block (Apple Mail, Outlook for macOS and iOS) and the `[data-ogsc]` form Outlook.com uses;
 *   the logo sits on its own light plate so a dark logo survives a client's inversion;
 * - a preheader padded with &zwnj;&nbsp; so the inbox preview does not run into the body,
 *   hidden in every client (`mso-hide:all` for Outlook);
 * - nothing loaded from anywhere but this site: no remote font or script.
 *
 * The design is compiled into the frame once per design (cached by its value); an email costs a
 * few string joins.
 */
export function layout(brand: Brand, options: LayoutOptions): string {
  const frame = frameFor(brand);
  const footer = [options.footerHtml ?? '', frame.footerTail].filter(Boolean).join('<br><br>');
  const start =
    options.lang && (options.lang.code !== 'en' || options.lang.dir !== 'ltr')
      ? frame.start.replace('<html lang="en"', `<html lang="${escapeHtml(options.lang.code)}" dir="${options.lang.dir}"`)
      : frame.start;
  return (
    start +
    preheaderHtml(options.preheader) +
    (options.webUrl && frame.viewInBrowser
      ? frame.viewInBrowser(options.webUrl, options.viewInBrowserLabel ?? 'View in your browser')
      : '') +
    frame.beforeBody +
    expandButtons(options.bodyHtml, frame) +
    frame.beforeFooter +
    footer +
    frame.end
  );
}

/**
 * A call-to-action button. What it returns is a placeholder that `layout` expands with the
 * brand's button style (emails/design.ts); it carries a per-process nonce, so text from a member
 * (a name in a notification) cannot forge one.
 */
export function button(href: string, label: string, accentColor: string): string {
  const strip = (s: string) => s.replace(/[\u0002]/g, '');
  return `\u0002${NONCE}${JSON.stringify([strip(href), strip(label), strip(accentColor)])}\u0002`;
}

const NONCE = randomBytes(9).toString('base64url');
const BUTTON_PLACEHOLDER = new RegExp(`\\u0002${NONCE}(\\[[^\\u0002]*\\])\\u0002`, 'g');

function expandButtons(html: string, frame: Frame): string {
  if (!html.includes('\u0002')) return html;
  return html
    .replace(BUTTON_PLACEHOLDER, (_m, json: string) => {
      const [href, label, accent] = JSON.parse(json) as [string, string, string];
      return frame.button(href, label, accent);
    })
    .replace(/\u0002/g, '');
}

/** The hidden preview line: the text, then filler so the client shows nothing of the body after it. */
export function preheaderHtml(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (!t) return '';
  const filler = '&zwnj;&nbsp;'.repeat(Math.max(20, 110 - t.length));
  return `<div class="hb-preheader" style="display:none;font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;">${latin1(escapeHtml(t))}${filler}</div>`;
}

/**
 * Characters past Latin-1 as numeric references, in a fresh one-byte string: one "…" in the
 * preheader would otherwise make every personalised copy of a post a two-byte string (twice the
 * memory and a UTF-16 to UTF-8 conversion per email; bench/email-render.ts).
 */
function latin1(html: string): string {
  const out = html.replace(/[^\u0000-\u00ff]/gu, (c) => `&#${c.codePointAt(0)};`);
  return Buffer.from(out, 'latin1').toString('latin1');
}

interface Frame {
  start: string;
  viewInBrowser: ((url: string, label: string) => string) | null;
  beforeBody: string;
  beforeFooter: string;
  footerTail: string;
  end: string;
  button: (href: string, label: string, accent: string) => string;
}

const frames = new Map<string, Frame>();

/** The compiled frame of a brand: built once per distinct design, then reused. */
function frameFor(brand: Brand): Frame {
  const key = JSON.stringify([brand.title, brand.accentColor, brand.siteUrl, brand.design, brand.logo, brand.postalAddress]);
  let frame = frames.get(key);
  if (!frame) {
    if (frames.size >= 32) frames.clear();
    frame = compileFrame(brand);
    frames.set(key, frame);
  }
  return frame;
}

/** The email's palette in each colour scheme, from the design. */
export function palette(brand: Brand) {
  const design = { ...DEFAULT_DESIGN, ...brand.design };
  const accent = HEX_COLOR.test(brand.accentColor) ? brand.accentColor : '#9a3412';
  const link = HEX_COLOR.test(design.linkColor) ? design.linkColor : accent;
  const background = HEX_COLOR.test(design.backgroundColor) ? design.backgroundColor : DEFAULT_DESIGN.backgroundColor;
  return {
    design,
    accent,
    link,
    background,
    card: '#ffffff',
    text: '#1c1917',
    muted: '#78716c',
    headingFont: FONT_STACKS[design.headingFont] ?? FONT_STACKS.helvetica,
    bodyFont: FONT_STACKS[design.bodyFont] ?? FONT_STACKS.georgia,
    dark: {
      background: '#0c0a09',
      card: '#1c1917',
      text: '#e7e5e4',
      muted: '#a8a29e',
      soft: '#292524',
      link: lighten(link, 0.45),
      accent: lighten(accent, 0.35),
    },
  };
}

function compileFrame(brand: Brand): Frame {
  const p = palette(brand);
  const { design } = p;
  const title = escapeHtml(brand.title);
  const site = escapeHtml(brand.siteUrl);
  const dark = p.dark;
  // Dark mode for the clients that honour it; inline colours need !important to be overridden.
  const darkRules = [
    `.hb-page{background-color:${dark.background} !important}`,
    `.hb-card{background-color:${dark.card} !important}`,
    `.hb-text,.hb-text p,.hb-text li,.hb-text td,.hb-text h1,.hb-text h2,.hb-text h3,.hb-text strong{color:${dark.text} !important}`,
    `.hb-muted,.hb-muted a,.hb-text [style*="color:#57534e"],.hb-text [style*="color:#78716c"]{color:${dark.muted} !important}`,
    `.hb-soft{background-color:${dark.soft} !important;color:${dark.text} !important}`,
    `.hb-link{color:${dark.link} !important}`,
    `.hb-title,.hb-title a{color:${dark.accent} !important}`,
    `.hb-logo{background-color:#ffffff !important}`,
  ];
  const style =
    `:root{color-scheme:light dark;supported-color-schemes:light dark}` +
    `@media (prefers-color-scheme:dark){${darkRules.join('')}}` +
    darkRules.map((r) => `[data-ogsc] ${r.replace(/,/g, ',[data-ogsc] ')}`).join('') +
    `@media only screen and (max-width:620px){.hb-pad{padding-left:20px !important;padding-right:20px !important}}`;
  const logo = brand.logo ? logoHtml(brand, brand.logo, design.logoWidth) : '';
  const titleLine =
    design.showTitle || !logo
      ? `<div class="hb-title" style="font-family:${p.headingFont};font-size:18px;line-height:1.3;font-weight:bold;color:${p.accent};${logo ? 'margin-top:10px;' : ''}"><a href="${site}" style="color:${p.accent};text-decoration:none;">${title}</a></div>`
      : '';
  const outer = `<table role="presentation" class="hb-page" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="${p.background}" style="background-color:${p.background};">`;
  const ghostOpen = `<!--[if mso]><table role="presentation" width="${EMAIL_WIDTH}" cellpadding="0" cellspacing="0" border="0" align="center"><tr><td><![endif]-->`;
  const ghostClose = `<!--[if mso]></td></tr></table><![endif]-->`;
  const card = (cls: string, bg: string | null) =>
    `<table role="presentation" class="${cls}" width="${EMAIL_WIDTH}" cellpadding="0" cellspacing="0" border="0" align="center"${bg ? ` bgcolor="${bg}"` : ''} style="width:100%;max-width:${EMAIL_WIDTH}px;${bg ? `background-color:${bg};` : ''}">`;
  const footerParts = [design.footerText.trim(), (brand.postalAddress ?? '').trim().replace(/\s*\n\s*/g, ', ')]
    .filter(Boolean)
    .map(escapeHtml);
  const smallFont = `font-family:${p.headingFont};font-size:12px;line-height:1.5;color:${p.muted};`;
  return {
    start: `<!doctype html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="x-apple-disable-message-reformatting"><meta name="color-scheme" content="light dark"><meta name="supported-color-schemes" content="light dark"><title>${title}</title><!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><![endif]--><style>${style}</style></head>
<body class="hb-page" style="margin:0;padding:0;background-color:${p.background};">
`,
    viewInBrowser: design.showViewInBrowser
      ? (url, label) =>
          `${outer}<tr><td align="center" style="padding:12px 0 0 0;">${ghostOpen}${card('', null)}<tr><td class="hb-pad hb-muted" align="right" style="padding:0 32px;${smallFont}"><a href="${escapeHtml(url)}" style="color:${p.muted};">${escapeHtml(label)}</a></td></tr></table>${ghostClose}</td></tr></table>\n`
      : null,
    beforeBody: `${outer}<tr><td align="center" style="padding:24px 0;">
${ghostOpen}${card('hb-card', p.card)}
<tr><td class="hb-pad" align="left" style="padding:24px 32px 0 32px;">${logo}${titleLine}</td></tr>
<tr><td class="hb-pad hb-text" style="padding:16px 32px 24px 32px;font-family:${p.bodyFont};font-size:16px;line-height:1.6;color:${p.text};">`,
    beforeFooter: `</td></tr>
</table>${ghostClose}
${ghostOpen}${card('', null)}<tr><td class="hb-pad hb-muted" style="padding:16px 32px;${smallFont}">`,
    footerTail: footerParts.join('<br>'),
    end: `</td></tr></table>${ghostClose}
</td></tr></table>
</body></html>`,
    button: (href, label, accentColor) =>
      buttonHtml(href, label, HEX_COLOR.test(accentColor) ? accentColor : p.accent, design.buttonStyle, p.headingFont),
  };
}

function logoHtml(brand: Brand, logo: SizedImage, wanted: number): string {
  const size = fitWithin(logo.width, logo.height, Math.min(Math.max(wanted, 24), CONTENT_WIDTH));
  const src = /^https?:\/\//.test(logo.src) ? logo.src : `${brand.siteUrl}${logo.src}`;
  // The light plate behind the logo keeps a dark logo legible when a client darkens the card.
  return `<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr><td class="hb-logo" bgcolor="#ffffff" style="background-color:#ffffff;padding:4px;"><a href="${escapeHtml(brand.siteUrl)}"><img src="${escapeHtml(src)}" width="${size.width}" height="${size.height}" alt="${escapeHtml(brand.title)}" style="display:block;border:0;width:${size.width}px;height:${size.height}px;"></a></td></tr></table>`;
}

/**
 * A bulletproof button: VML for Outlook for Windows (which ignores padding on links), a padded
 * link for every other client.
 */
function buttonHtml(href: string, label: string, accent: string, style: ButtonStyle, font: string): string {
  const h = escapeHtml(href);
  const l = escapeHtml(label);
  const outline = style === 'outline';
  const radius = style === 'square' ? 0 : style === 'pill' ? 22 : 6;
  const arc = style === 'square' ? 0 : style === 'pill' ? 50 : 14;
  const fill = outline ? '#ffffff' : accent;
  const color = outline ? accent : '#ffffff';
  const width = Math.min(CONTENT_WIDTH, Math.round(label.length * 9.5 + 48));
  return `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:24px 0;"><tr><td align="left">
<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" xmlns:w="urn:schemas-microsoft-com:office:word" href="${h}" style="height:44px;v-text-anchor:middle;width:${width}px;" arcsize="${arc}%" strokecolor="${accent}" strokeweight="1px" fillcolor="${fill}"><w:anchorlock/><center style="color:${color};font-family:${font};font-size:16px;font-weight:bold;">${l}</center></v:roundrect><![endif]-->
<!--[if !mso]><!--><a href="${h}" class="hb-button" style="display:inline-block;background-color:${fill};border:1px solid ${accent};border-radius:${radius}px;color:${color};font-family:${font};font-size:16px;font-weight:bold;line-height:20px;padding:12px 22px;text-decoration:none;">${l}</a><!--<![endif]-->
</td></tr></table>`;
}
