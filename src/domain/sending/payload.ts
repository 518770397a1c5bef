import { personalize, pollSlots, type CompiledEmail, type SlotValues } from '../../../emails/post.ts';
import { pollToken } from '../polls/votes.ts';
import { escapeHtml } from '../../../emails/html.ts';
import type { EmailMessage } from '../../lib/mailer/port.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { preferencesToken, preferencesUrl } from '../members/links.ts';
import { listUnsubscribeHeaders } from '../members/subscribe.ts';
import { fillTracked, trackTemplate, type TrackedTemplate } from '../tracking/links.ts';
import type { Variant } from '../content/email.ts';

/**
 * A batch's emails, as a pure function of what was fixed when the send was prepared (the
 * rendered variants, the sender, each delivery's address, name and variant) and the app
 * secret. Nothing here reads the clock or the members table, so a batch re-posted after a
 * crash is byte-for-byte the payload posted the first time, and the provider's idempotency
 * key recognises it.
 */
export interface FixedSend {
  id: string;
  from: string;
  /** Null only for sends prepared before Reply-To was fixed with the send. */
  replyTo: string | null;
  rendered: RenderedSend;
  /** The send's links (send_links, by number): rewritten to the click redirect. */
  links: readonly string[];
  /** Whether tracking tokens name the member (the per-member setting at preparation). */
  trackMembers: boolean;
  /** A subject test's lines (subject-test.ts); null when the post's title is the subject. */
  subjects?: string[] | null | undefined;
}

export interface BatchDelivery {
  memberId: string;
  email: string;
  name: string | null;
  /** Fills a post's {{referral}} block with the member's /r/<code> link. */
  referralCode?: string | null | undefined;
  /** The whole post, or the preview with an upgrade link (content/email.ts's Variant). */
  variant: Variant;
  /** In a subject test: the index of this delivery's subject (the sample's own, or the winner). */
  subject?: number | null | undefined;
  /** The rendering's language (a key of `rendered.languages`); null: the send's own rendering. */
  language?: string | null | undefined;
}

/** One language's rendering of a send: its variants, fixed when the send was prepared. */
export interface RenderedLanguage {
  full: CompiledEmail;
  preview: CompiledEmail | null;
  /** The name a member without one is greeted by ("Hi there,"), in this language; "there" when absent. */
  anonymousName?: string | undefined;
  /** The post this rendering shows (the original or a translation): its gate decides the variant. */
  postId?: string | undefined;
}

/**
 * A send's renderings (sends.rendered): its own (the site's language) and one per other language
 * among its members (sending/languages.ts), each rendered once; a delivery names its language.
 * Sends prepared before languages have the first part only.
 */
export interface RenderedSend extends RenderedLanguage {
  languages?: Record<string, RenderedLanguage> | undefined;
}

/** A delivery's rendering: its language's, else the send's own. */
export function renderingFor(rendered: RenderedSend, language: string | null | undefined): RenderedLanguage {
  return (language && rendered.languages?.[language]) || rendered;
}

/**
 * A delivery's variant as stored: one byte ("char") per row keeps a million deliveries small,
 * so the column holds a code and the code stays here, at the table's edge.
 */
export const VARIANT_CODE: Record<Variant, string> = { full: 'f', preview: 'p' };

export function variantOfCode(code: string): Variant {
  return code === VARIANT_CODE.preview ? 'preview' : 'full';
}

export function idempotencyKey(sendId: string, batch: number): string {
  return `send-${sendId}-batch-${batch}`;
}

/** Each variant's poll slots, found once per send. */
const pollSlotsOf = new WeakMap<CompiledEmail, ReturnType<typeof pollSlots>>();
function pollsOf(compiled: CompiledEmail): ReturnType<typeof pollSlots> {
  let p = pollSlotsOf.get(compiled);
  if (!p) pollSlotsOf.set(compiled, (p = pollSlots(compiled)));
  return p;
}

/** Each variant's HTML template with its links and pixel turned into slots, once per send. */
const tracked = new WeakMap<CompiledEmail, TrackedTemplate>();
function trackedHtml(compiled: CompiledEmail, send: FixedSend, siteUrl: string): TrackedTemplate {
  let t = tracked.get(compiled);
  if (!t) tracked.set(compiled, (t = trackTemplate(compiled.html, send.links, siteUrl)));
  return t;
}

export function batchMessages(send: FixedSend, deliveries: readonly BatchDelivery[], ctx: SiteKeys): EmailMessage[] {
  return deliveries.map((d) => {
    const rendering = renderingFor(send.rendered, d.language);
    const compiled = d.variant === 'preview' && rendering.preview ? rendering.preview : rendering.full;
    const prefs = preferencesToken(ctx.secret, d.memberId);
    const prefsUrl = preferencesUrl(ctx.siteUrl, prefs);
    const values: SlotValues = {
      name: d.name?.trim() || rendering.anonymousName || 'there',
      unsubscribe_url: prefsUrl,
      preferences_url: prefsUrl,
      referral_url: d.referralCode ? `${ctx.siteUrl}/r/${d.referralCode}` : `${ctx.siteUrl}/join`,
    };
    // A poll's answer links name the member whatever the tracking setting: an answer is something
    // the member chooses to give, and it cannot be counted once per member without naming them.
    for (const p of pollsOf(compiled)) {
      values[p.slot] =
        `${ctx.siteUrl}/p/${pollToken(ctx.secret, { pollId: p.pollId, memberId: d.memberId, answer: p.answer, sendId: send.id })}`;
    }
    const email = personalize({ ...compiled, html: { texts: [''], slots: [] } }, values);
    if (send.subjects) {
      // The rest's batches are released only with the winner, so every delivery of a test has one.
      const line = d.subject == null ? undefined : send.subjects[d.subject];
      if (line === undefined) throw new Error(`send ${send.id}: member ${d.memberId} has no subject line of the test`);
      email.subject = line;
    }
    // First-party tracking: links through /t/c/, an open pixel at /t/o/ (tracking/links.ts).
    const html = fillTracked(
      trackedHtml(compiled, send, ctx.siteUrl),
      (slot) => escapeHtml(values[slot as keyof SlotValues] ?? ''),
      { sendId: send.id, memberId: send.trackMembers ? d.memberId : null },
      ctx,
    );
    return {
      from: send.from,
      ...(send.replyTo === null ? {} : { replyTo: send.replyTo }),
      to: [d.email],
      subject: email.subject,
      html,
      text: email.text,
      headers: listUnsubscribeHeaders(ctx.siteUrl, prefs),
      tags: [
        { name: 'hearth_send', value: send.id },
        { name: 'hearth_member', value: d.memberId },
      ],
    };
  });
}
