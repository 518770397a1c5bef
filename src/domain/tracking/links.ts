import { unescapeHtml } from '../../../emails/html.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { clickToken, openToken } from './tokens.ts';

/**
 * A send's links: collected once when the send is prepared (every http(s) href of its rendered
 * variants, in order, each once) and rewritten per email to the click redirect. The preferences
 * and unsubscribe links are filled in per member after this (they are slots, not links of the
 * post), so they are never tracked and never counted as engagement.
 */
const HREF = /href="(https?:\/\/[^"]*)"/g;

/** The distinct link URLs of some HTML, in order of first appearance. */
export function collectLinks(htmls: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const html of htmls) for (const m of html.matchAll(HREF)) seen.add(unescapeHtml(m[1]!));
  return [...seen];
}

/**
 * The rewriting is done once per send on the compiled template, not once per email: each
 * tracked href and the pixel become slots ("click:N", "open") beside the personal ones, so an
 * email costs a join and one signature per distinct link (rewriting each email's HTML took 65 µs
 * an email; test/unit/tracking.test.ts checks the two give the same bytes).
 */
export interface TrackedTemplate {
  texts: string[];
  /** A personal slot's name, "click:N" or "open". */
  slots: string[];
}

export function trackTemplate(
  template: { texts: readonly string[]; slots: readonly string[] },
  links: readonly string[],
  siteUrl: string,
): TrackedTemplate {
  const index = new Map(links.map((url, i) => [url, i]));
  const texts: string[] = [];
  const slots: string[] = [];
  let current = '';
  const pushText = (piece: string) => {
    let last = 0;
    for (const m of piece.matchAll(HREF)) {
      const link = index.get(unescapeHtml(m[1]!));
      if (link === undefined) continue;
      current += piece.slice(last, m.index) + `href="${siteUrl}/t/c/`;
      texts.push(current);
      slots.push(`click:${link}`);
      current = '"';
      last = m.index! + m[0].length;
    }
    current += piece.slice(last);
  };
  template.texts.forEach((piece, i) => {
    pushText(piece);
    if (i < template.slots.length) {
      texts.push(current);
      slots.push(template.slots[i]!);
      current = '';
    }
  });
  // The pixel, before </body> as trackHtml puts it.
  const pixelStart = `<img src="${siteUrl}/t/o/`;
  const pixelEnd = `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;" />`;
  const body = current.lastIndexOf('</body>');
  const beforeBody = body === -1 ? current : current.slice(0, body);
  texts.push(beforeBody + pixelStart);
  slots.push('open');
  current = pixelEnd + (body === -1 ? '' : current.slice(body));
  texts.push(current);
  return { texts, slots };
}

export function fillTracked(
  t: TrackedTemplate,
  personal: (slot: string) => string,
  ref: { sendId: string; memberId: string | null },
  ctx: SiteKeys,
): string {
  const clicks = new Map<string, string>();
  let out = t.texts[0]!;
  for (let i = 0; i < t.slots.length; i++) {
    const slot = t.slots[i]!;
    let value: string;
    if (slot === 'open') value = openToken(ctx.secret, ref.sendId, ref.memberId);
    else if (slot.startsWith('click:')) {
      value = clicks.get(slot) ?? clickToken(ctx.secret, ref.sendId, ref.memberId, Number(slot.slice(6)));
      clicks.set(slot, value);
    } else value = personal(slot);
    out += value + t.texts[i + 1]!;
  }
  return out;
}
