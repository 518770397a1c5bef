import { CONTENT_WIDTH, FONT_STACKS, fitWithin, type SizedImage } from './design.ts';
import { escapeHtml, unescapeHtml, layout, button, palette, type Brand } from './html.ts';
import { emailTranslator, frameLanguage } from './language.ts';

/**
 * A post as an email. Rendered once per send and variant (the whole post, or the preview with an
 * upgrade link), with per-member fields left as slots; `personalize` then fills the slots by
 * joining precomputed pieces, so a million emails cost one render and a million cheap joins.
 *
 * Email clients ignore <style> more or less (Outlook, Gmail's app), so every element of the body
 * gets its style inline, from a table per tag: the body HTML comes from our own Markdown renderer,
 * whose tags are known.
 */
export const SLOTS = ['name', 'unsubscribe_url', 'preferences_url', 'referral_url'] as const;
export type Slot = (typeof SLOTS)[number];
/**
 * The slots every personalisation must fill; referral_url is filled when a post asks for it, and
 * `poll:<id>:<answer>` (one per answer of a {{poll:<id>}} block) with the member's signed answer link.
 */
export type PollSlot = `poll:${string}:${number}`;
export type SlotValues = Record<Exclude<Slot, 'referral_url'>, string> & { referral_url?: string } & {
  [slot: PollSlot]: string | undefined;
};

/** A poll as its email block shows it. */
export interface EmailPoll {
  question: string;
  answers: string[];
}

/**
 * A line `{{referral}}` in a post's Markdown: in the email, a block with the reader's own
 * referral link (/r/<code>); on the web, an invitation to find it in the account.
 */
const REFERRAL_PARAGRAPH = /<p[^>]*>\{\{referral\}\}<\/p>/g;
/** A line `{{poll:<id>}}`: the question and one link per answer (a click answers, see domain/polls). */
const POLL_PARAGRAPH = /<p[^>]*>\{\{poll:(\d{1,18})\}\}<\/p>/g;
const POLL_LINE = /^\{\{poll:(\d{1,18})\}\}$/gm;
export const marker = (slot: Slot | PollSlot) => `\u0001${slot}\u0001`;

const INLINE: Record<string, { style: string; cls?: string }> = {
  p: { style: 'margin:0 0 16px 0;' },
  h1: { style: 'font-family:HEADFONT;font-size:26px;line-height:1.25;margin:24px 0 12px 0;' },
  h2: { style: 'font-family:HEADFONT;font-size:22px;line-height:1.3;margin:24px 0 12px 0;' },
  h3: { style: 'font-family:HEADFONT;font-size:19px;line-height:1.3;margin:20px 0 10px 0;' },
  a: { style: 'color:LINK;text-decoration:underline;', cls: 'hb-link' },
  img: { style: 'max-width:100%;height:auto;border:0;display:block;margin:16px 0;' },
  blockquote: { style: 'margin:16px 0;padding:4px 16px;border-left:4px solid #d6d3d1;color:#44403c;' },
  ul: { style: 'margin:0 0 16px 0;padding-left:24px;' },
  ol: { style: 'margin:0 0 16px 0;padding-left:24px;' },
  li: { style: 'margin:0 0 6px 0;' },
  pre: { style: 'background-color:#f5f5f4;padding:12px;font-size:14px;white-space:pre-wrap;', cls: 'hb-soft' },
  code: { style: 'font-family:Menlo,Consolas,monospace;font-size:14px;background-color:#f5f5f4;padding:1px 4px;', cls: 'hb-soft' },
  hr: { style: 'border:0;border-top:1px solid #e7e5e4;margin:24px 0;' },
  table: { style: 'border-collapse:collapse;width:100%;margin:0 0 16px 0;' },
  th: { style: 'border:1px solid #e7e5e4;padding:6px 8px;text-align:left;' },
  td: { style: 'border:1px solid #e7e5e4;padding:6px 8px;text-align:left;' },
};

export interface InlineOptions {
  /** Link colour (the accent when absent). */
  linkColor?: string | undefined;
  headingFont?: string | undefined;
  /** Real sizes of the site's images, by site path: width/height attributes for Outlook for Windows. */
  images?: ReadonlyMap<string, { width: number; height: number }> | undefined;
}

/**
 * Adds the inline style of each known tag; relative links and images become absolute; an image
 * of known size gets `width`/`height` attributes fitted to the content column (Outlook for
 * Windows shows an image without them at its natural size). `loading` is dropped (no client
 * uses it in email).
 */
export function inlineStyles(html: string, accentColor: string, siteUrl: string, options: InlineOptions = {}): string {
  const link = options.linkColor ?? accentColor;
  const headFont = options.headingFont ?? FONT_STACKS.helvetica;
  return html.replace(/<([a-z0-9]+)((?:\s[^>]*)?)>/gi, (_whole, tag: string, attrs: string) => {
    const name = tag.toLowerCase();
    const known = INLINE[name];
    let a = attrs.replace(/\sloading="[^"]*"/g, '');
    let style = known?.style;
    if (name === 'img') {
      const src = /\ssrc="([^"]*)"/.exec(a)?.[1];
      const real = src ? options.images?.get(src) : undefined;
      if (real) {
        const fit = fitWithin(real.width, real.height, CONTENT_WIDTH);
        a += ` width="${fit.width}" height="${fit.height}"`;
        style = `width:100%;max-width:${fit.width}px;height:auto;border:0;display:block;margin:16px 0;`;
      }
    }
    a = a.replace(/\s(href|src)="\/(?!\/)/g, (_m, attr: string) => ` ${attr}="${siteUrl}/`);
    if (style) {
      const filled = style.replace('LINK', link).replace('HEADFONT', headFont);
      a = `${known?.cls ? ` class="${known.cls}"` : ''} style="${filled}"${a}`;
    }
    return `<${tag}${a}>`;
  });
}

/** The text part: paragraphs kept, links written out, tags removed. */
export function htmlToText(html: string): string {
  return html
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>(.*?)<\/a>/gi, (_m, href: string, text: string) => (text === href ? href : `${text} (${href})`))
    .replace(/<img\s[^>]*alt="([^"]*)"[^>]*>/gi, '[$1]')
    .replace(/<li[^>]*>/gi, '- ')
    .replace(/<\/(p|h[1-6]|li|blockquote|pre|ul|ol)>/gi, '\n\n')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(quot|#39|lt|gt|amp);/g, (e) => unescapeHtml(e))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export interface PostEmailInput {
  brand: Brand;
  title: string;
  url: string;
  /** The body of this variant (already safe HTML from the Markdown renderer). */
  bodyHtml: string;
  /** True for the variant of readers who may not read the whole post. */
  cut: boolean;
  upgradeUrl: string;
  /** The polls of the post's {{poll:<id>}} blocks, by id; a block whose poll is missing is left out. */
  polls?: ReadonlyMap<string, EmailPoll> | undefined;
  /** The inbox's preview line: the post's excerpt, or one set by hand; the body's opening words when absent. */
  preheader?: string | undefined;
  /** Real sizes of the site's images in the body, by site path (content/images.ts). */
  images?: ReadonlyMap<string, { width: number; height: number }> | undefined;
  /** The post's feature image, shown above the title when the design says so. */
  featureImage?: (SizedImage & { alt: string }) | undefined;
  /** The author's name, shown under the title when the design says so. */
  author?: string | undefined;
  /** The language of the fixed parts (greeting, footer, upgrade link); English when left out. */
  lang?: string | null | undefined;
}

/** The body's opening words, for a preheader: about 150 characters, cut at a word. */
export function openingWords(bodyHtml: string, max = 150): string {
  const text = htmlToText(bodyHtml)
    .replace(/\{\{[^}]*\}\}/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max / 2))}…`;
}

/** Fixed text and slots, alternating: text, slot, text, slot, …, text. */
export interface Compiled {
  texts: string[];
  slots: Array<Slot | PollSlot>;
}

export interface CompiledEmail {
  subject: string;
  html: Compiled;
  text: Compiled;
}

export function compile(rendered: string): Compiled {
  // A piece whose characters all fit in Latin-1 is copied into a one-byte string: V8 keeps a
  // slice of a two-byte string (one "…" anywhere in the email) two-byte, and every personalised
  // copy then costs twice the memory and a UTF-16 to UTF-8 conversion (bench/email-render.ts).
  const pieces = rendered.split('\u0001').map((p) => (/[^\u0000-\u00ff]/.test(p) ? p : Buffer.from(p, 'latin1').toString('latin1')));
  return { texts: pieces.filter((_p, i) => i % 2 === 0), slots: pieces.filter((_p, i) => i % 2 === 1) as Compiled['slots'] };
}

/** Inputs must not carry the slot marker themselves (a post cannot forge a slot). */
const clean = (s: string) => s.replace(/\u0001/g, '');

export function renderPostEmail(input: PostEmailInput): CompiledEmail {
  const brand = { ...input.brand, title: clean(input.brand.title) };
  input = {
    ...input,
    title: clean(input.title),
    url: clean(input.url),
    bodyHtml: clean(input.bodyHtml),
    upgradeUrl: clean(input.upgradeUrl),
  };
  const p = palette(brand);
  const tr = emailTranslator(input.lang);
  const site = { site: brand.title };
  const soft = 'class="hb-soft" style="margin:24px 0;padding:16px;background-color:#f5f5f4;border-radius:8px;"';
  const referral = `<div ${soft}><p style="margin:0 0 8px 0;font-weight:bold;">${tr.html('emails.referral.title', site)}</p><p style="margin:0;">${tr.html('emails.referral.share')} <a class="hb-link" href="${marker('referral_url')}" style="color:${p.link};">${marker('referral_url')}</a></p></div>`;
  const polls = input.polls ?? new Map<string, EmailPoll>();
  const pollBlock = (_m: string, id: string) => {
    const poll = polls.get(id);
    if (!poll) return '';
    const links = poll.answers
      .map(
        (a, i) =>
          `<a class="hb-link" href="${marker(`poll:${id}:${i}`)}" style="display:block;margin:0 0 8px 0;padding:10px 14px;border:1px solid ${p.accent};border-radius:6px;color:${p.accent};text-decoration:none;font-weight:bold;">${escapeHtml(clean(a))}</a>`,
      )
      .join('');
    return `<div ${soft}><p style="margin:0 0 12px 0;font-weight:bold;">${escapeHtml(clean(poll.question))}</p>${links}<p style="margin:8px 0 0 0;font-size:13px;color:#78716c;">${tr.html('emails.post.pollNote')}</p></div>`;
  };
  const body = inlineStyles(input.bodyHtml, p.accent, brand.siteUrl, {
    linkColor: p.link,
    headingFont: p.headingFont,
    images: input.images,
  })
    .replace(REFERRAL_PARAGRAPH, () => referral)
    .replace(POLL_PARAGRAPH, pollBlock);
  const cut = input.cut
    ? `<p style="margin:24px 0 8px 0;font-style:italic;">${tr.html('emails.post.cut', site)}</p>${button(input.upgradeUrl, tr.t('emails.post.button'), p.accent)}`
    : '';
  const feature =
    p.design.showFeatureImage && input.featureImage ? featureImageHtml(input.featureImage, brand.siteUrl, escapeHtml(input.url)) : '';
  const author =
    p.design.showAuthor && input.author
      ? `<p style="margin:-8px 0 16px 0;font-family:${p.headingFont};font-size:14px;color:#78716c;">${tr.html('emails.post.by', { author: clean(input.author) })}</p>`
      : '';
  const greeting = `<p style="margin:0 0 16px 0;color:#57534e;">${tr.html('emails.hi', { name: marker('name') })}</p>`;
  const html = layout(brand, {
    preheader: clean(input.preheader ?? '') || openingWords(input.bodyHtml) || input.title,
    webUrl: input.url,
    viewInBrowserLabel: tr.t('emails.footer.viewInBrowser'),
    lang: frameLanguage(tr),
    bodyHtml: `${feature}${greeting}<h1 style="font-family:${p.headingFont};font-size:28px;line-height:1.2;margin:0 0 16px 0;"><a href="${escapeHtml(input.url)}" style="color:${p.text};text-decoration:none;">${escapeHtml(input.title)}</a></h1>${author}${body}${cut}`,
    footerHtml: `${tr.html('emails.footer.subscribed', site)} <a href="${marker('preferences_url')}" style="color:${p.muted};">${tr.html('emails.footer.preferences')}</a> · <a href="${marker('unsubscribe_url')}" style="color:${p.muted};">${tr.html('emails.footer.unsubscribe')}</a>`,
  });
  const bodyText = htmlToText(input.bodyHtml)
    .replace(
      /^\{\{referral\}\}$/gm,
      () => `${tr.t('emails.referral.title', site)} ${tr.t('emails.referral.share')} ${marker('referral_url')}`,
    )
    .replace(POLL_LINE, (_m, id: string) => {
      const poll = polls.get(id);
      if (!poll) return '';
      return `${clean(poll.question)}\n${poll.answers.map((a, i) => `- ${clean(a)}: ${marker(`poll:${id}:${i}`)}`).join('\n')}`;
    });
  const text = `${tr.t('emails.hi', { name: marker('name') })}\n\n${input.title}\n${input.url}\n\n${bodyText}\n\n${
    input.cut ? `${tr.t('emails.post.cutText')} ${input.upgradeUrl}\n\n` : ''
  }--\n${tr.t('emails.footer.preferences')}: ${marker('preferences_url')}\n${tr.t('emails.footer.unsubscribe')}: ${marker('unsubscribe_url')}\n`;
  return { subject: input.title, html: compile(html), text: compile(text) };
}

function featureImageHtml(image: SizedImage & { alt: string }, siteUrl: string, href: string): string {
  const fit = fitWithin(image.width, image.height, CONTENT_WIDTH);
  const src = image.src.startsWith('/') ? `${siteUrl}${image.src}` : image.src;
  return `<a href="${href}"><img src="${escapeHtml(clean(src))}" width="${fit.width}" height="${fit.height}" alt="${escapeHtml(clean(image.alt))}" style="display:block;width:100%;max-width:${fit.width}px;height:auto;border:0;margin:0 0 20px 0;"></a>`;
}

/** Fills a compiled email's slots for one member: a join, no parsing. Values are escaped for HTML. */
export function personalize(email: CompiledEmail, values: SlotValues): { subject: string; html: string; text: string } {
  return { subject: email.subject, html: fill(email.html, values, escapeHtml), text: fill(email.text, values, (v) => v) };
}

function fill(c: Compiled, values: SlotValues, encode: (v: string) => string): string {
  let out = c.texts[0]!;
  for (let i = 0; i < c.slots.length; i++) out += encode(values[c.slots[i]!] ?? '') + c.texts[i + 1]!;
  return out;
}

/** The poll slots of a compiled email, each once: `{slot, pollId, answer}`. */
export function pollSlots(email: CompiledEmail): Array<{ slot: PollSlot; pollId: string; answer: number }> {
  const seen = new Set<string>();
  const out: Array<{ slot: PollSlot; pollId: string; answer: number }> = [];
  for (const slot of [...email.html.slots, ...email.text.slots]) {
    const m = /^poll:(\d+):(\d)$/.exec(slot);
    if (!m || seen.has(slot)) continue;
    seen.add(slot);
    out.push({ slot: slot as PollSlot, pollId: m[1]!, answer: Number(m[2]) });
  }
  return out;
}
