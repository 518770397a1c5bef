import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { renderPostEmail, personalize, pollSlots, type CompiledEmail, type SlotValues } from '../../../emails/post.ts';
import { pollIdsIn, pollsById } from '../polls/polls.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor, type MailDefaults } from '../newsletters/sender.ts';
import { ValidationError } from '../../lib/errors.ts';
import { emailProblem, normaliseEmail } from '../members/email.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { canRead, type Gate } from './access.ts';
import { getPostForEdit } from './editor.ts';
import { imagePathsIn, imageSizes } from './images.ts';
import { renderMarkdown, splitAtCut } from './markdown.ts';

/**
 * A post's email variants: `full` for members who may read it, `preview` (the part above the
 * cut and an upgrade link) for those who may not. A send renders each variant once.
 */
export interface PostEmailVariants {
  full: CompiledEmail;
  preview: CompiledEmail | null;
}

export type Variant = keyof PostEmailVariants;

/** Which variant a member gets: the decision is canRead's, as on every other surface. */
export function variantFor(post: Gate, member: { paid: boolean; tierId?: string | undefined }): Variant {
  return canRead({ kind: 'member', status: 'active', paid: member.paid, tierId: member.tierId }, post) ? 'full' : 'preview';
}

/**
 * Renders a post's variants with the brand's design. `uploadsDir`, where the caller has it, lets
 * the size of an image not yet measured be read once (content/images.ts); without it, such an
 * image is sent without width/height attributes.
 */
export async function renderPostVariants(
  db: Kysely<Database>,
  siteUrl: string,
  postId: string,
  options: {
    uploadsDir?: string | undefined;
    /** The language of the fixed parts (footer, links, upgrade text); the site's when left out. */
    lang?: string | undefined;
  } = {},
): Promise<PostEmailVariants> {
  const [post, site] = await Promise.all([getPostForEdit(db, postId), getSiteSettings(db)]);
  const brand = await emailBrand(db, site, siteUrl);
  // {{poll:<id>}} blocks: the question and answers are fixed into the render (each answer a slot
  // that payload.ts fills with the member's signed link).
  const polls = await pollsById(db, pollIdsIn(post.markdown));
  const url = `${siteUrl}/posts/${post.slug}`;
  const parts = splitAtCut(post.markdown);
  const fullBody = renderMarkdown(parts.hasCut ? `${parts.preview}\n\n${parts.rest}` : parts.rest);
  const feature = post.feature_image && site.design.showFeatureImage ? post.feature_image : null;
  const images = await imageSizes(db, [...imagePathsIn(fullBody), ...(feature ? [feature] : [])], options.uploadsDir);
  const featureSize = feature ? images.get(feature) : undefined;
  const author =
    site.design.showAuthor && post.author_id
      ? (await db.selectFrom('staff_users').select('name').where('id', '=', post.author_id).executeTakeFirst())?.name || undefined
      : undefined;
  const lang = options.lang ?? site.language;
  const common = {
    brand,
    lang,
    title: post.title,
    url,
    polls,
    preheader: post.excerpt || undefined,
    images,
    featureImage: feature && featureSize ? { src: feature, ...featureSize, alt: '' } : undefined,
    author,
  };
  const full = renderPostEmail({ ...common, bodyHtml: fullBody, cut: false, upgradeUrl: url });
  const preview =
    post.visibility === 'paid' || post.visibility === 'tiers'
      ? renderPostEmail({
          ...common,
          bodyHtml: parts.hasCut ? renderMarkdown(parts.preview) : '',
          cut: true,
          // Every reader of an email is a member already: the way on is the membership page, not /join.
          upgradeUrl: `${siteUrl}/account?return=${encodeURIComponent(`/posts/${post.slug}`)}`,
        })
      : null;
  return { full, preview };
}

/** Sends one rendering of the post to any address, through the queue, marked as a test. */
export async function sendTestEmail(
  db: Kysely<Database>,
  mail: MailDefaults,
  postId: string,
  address: string,
  variant: Variant,
): Promise<void> {
  const problem = emailProblem(address);
  if (problem) throw new ValidationError(`The test address is not valid: ${problem}.`, 'invalid_email');
  const siteUrl = mail.siteUrl;
  const variants = await renderPostVariants(db, siteUrl, postId);
  const compiled = variant === 'preview' ? variants.preview : variants.full;
  if (!compiled) throw new ValidationError('Only a paid post has a preview variant.', 'no_variant');
  const email = personalize(compiled, {
    name: 'there',
    unsubscribe_url: `${siteUrl}/unsubscribe`,
    preferences_url: `${siteUrl}/unsubscribe`,
    referral_url: `${siteUrl}/r/your-own-code`,
    ...pollPreviewLinks(compiled, siteUrl),
  });
  // From and Reply-To as a send to the default newsletter would have them.
  const defaultNewsletter = await db.selectFrom('newsletters').select('id').where('is_default', '=', true).executeTakeFirst();
  await queueEmail(db, {
    ...(await senderFor(db, mail, defaultNewsletter ? [defaultNewsletter.id] : [])),
    to: [normaliseEmail(address)],
    subject: `[Test] ${email.subject}`,
    html: email.html,
    text: email.text,
    tags: [{ name: 'kind', value: 'test-post' }],
  });
}

/** Poll answer links outside a send (a test email, the editor's preview): the poll's page, which records nothing. */
export function pollPreviewLinks(compiled: CompiledEmail, siteUrl: string): Partial<SlotValues> {
  return Object.fromEntries(pollSlots(compiled).map((p) => [p.slot, `${siteUrl}/polls/${p.pollId}`]));
}
