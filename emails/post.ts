import { escapeHtml, unescapeHtml, layout, button, type Brand } from './html.ts';
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

const INLINE: Record<string, string> = {
  p: 'margin:0 0 16px 0;',
  h1: 'font-size:26px;line-height:1.25;margin:24px 0 12px 0;',
  h2: 'font-size:22px;line-height:1.3;margin:24px 0 12px 0;',
  h3: 'font-size:19px;line-height:1.3;margin:20px 0 10px 0;',
  a: 'color:ACCENT;text-decoration:underline;',
  img: 'max-width:100%;height:auto;border:0;display:block;margin:16px 0;',
  blockquote: 'margin:16px 0;padding:4px 16px;border-left:4px solid #d6d3d1;color:#44403c;',
  ul: 'margin:0 0 16px 0;padding-left:24px;',
  ol: 'margin:0 0 16px 0;padding-left:24px;',
  li: 'margin:0 0 6px 0;',
  pre: 'background:#f5f5f4;padding:12px;overflow-x:auto;font-size:14px;',
  code: 'font-family:Menlo,Consolas,monospace;font-size:14px;background:#f5f5f4;padding:1px 4px;',
  hr: 'border:0;border-top:1px solid #e7e5e4;margin:24px 0;',
};

/** Adds the inline style of each known tag; relative links and images become absolute. */
export function inlineStyles(html: string, accentColor: string, siteUrl: string): string {
  return html.replace(/<([a-z0-9]+)((?:\s[^>]*)?)>/gi, (_whole, tag: string, attrs: string) => {
    const style = INLINE[tag.toLowerCase()];
    let a = attrs.replace(/\s(href|src)="\/(?!\/)/g, (_m, name: string) => ` ${name}="${siteUrl}/`);
    if (style) a = ` style="${style.replace('ACCENT', accentColor)}"${a}`;
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
  /** The language of the fixed parts (greeting, footer, upgrade link); English when left out. */
  lang?: string | null | undefined;
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
  const pieces = rendered.split('\u0001');
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
  const tr = emailTranslator(input.lang);
  const site = { site: brand.title };
  const referral = `<div style="margin:24px 0;padding:16px;background:#f5f5f4;border-radius:8px;"><p style="margin:0 0 8px 0;font-weight:600;">${tr.html('emails.referral.title', site)}</p><p style="margin:0;">${tr.html('emails.referral.share')} <a href="${marker('referral_url')}" style="color:${brand.accentColor};">${marker('referral_url')}</a></p></div>`;
  const polls = input.polls ?? new Map<string, EmailPoll>();
  const pollBlock = (_m: string, id: string) => {
    const poll = polls.get(id);
    if (!poll) return '';
    const links = poll.answers
      .map(
        (a, i) =>
          `<a href="${marker(`poll:${id}:${i}`)}" style="display:block;margin:0 0 8px 0;padding:10px 14px;border:1px solid ${brand.accentColor};border-radius:6px;color:${brand.accentColor};text-decoration:none;font-weight:600;">${escapeHtml(clean(a))}</a>`,
      )
      .join('');
    return `<div style="margin:24px 0;padding:16px;background:#f5f5f4;border-radius:8px;"><p style="margin:0 0 12px 0;font-weight:600;">${escapeHtml(clean(poll.question))}</p>${links}<p style="margin:8px 0 0 0;font-size:13px;color:#78716c;">${tr.html('emails.post.pollNote')}</p></div>`;
  };
  const body = inlineStyles(input.bodyHtml, brand.accentColor, brand.siteUrl)
    .replace(REFERRAL_PARAGRAPH, () => referral)
    .replace(POLL_PARAGRAPH, pollBlock);
  const cut = input.cut
    ? `<p style="margin:24px 0 8px 0;font-style:italic;">${tr.html('emails.post.cut', site)}</p>${button(input.upgradeUrl, tr.t('emails.post.button'), brand.accentColor)}`
    : '';
  const greeting = `<p style="margin:0 0 16px 0;color:#57534e;">${tr.html('emails.hi', { name: marker('name') })}</p>`;
  const html = layout(brand, {
    lang: frameLanguage(tr),
    preheader: input.title,
    bodyHtml: `${greeting}<h1 style="font-size:28px;line-height:1.2;margin:0 0 16px 0;"><a href="${escapeHtml(input.url)}" style="color:#1c1917;text-decoration:none;">${escapeHtml(input.title)}</a></h1>${body}${cut}`,
    footerHtml: `${tr.html('emails.footer.subscribed', site)} <a href="${escapeHtml(input.url)}" style="color:#78716c;">${tr.html('emails.footer.viewInBrowser')}</a> · <a href="${marker('preferences_url')}" style="color:#78716c;">${tr.html('emails.footer.preferences')}</a> · <a href="${marker('unsubscribe_url')}" style="color:#78716c;">${tr.html('emails.footer.unsubscribe')}</a>`,
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
