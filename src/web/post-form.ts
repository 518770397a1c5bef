import type { Visibility } from '../domain/content/access.ts';
import type { PostInput } from '../domain/content/editor.ts';
import { zonedToInstant } from '../lib/time-zone.ts';
import { field, type Fields } from './request-data.ts';

/**
 * The post editor's form (admin/posts/new and admin/posts/:id) as a PostInput. Only the shape
 * is read here; what makes a valid post is the domain's to say.
 */
export function postInputFromForm(form: Fields, zone: string): PostInput {
  const publishAt = field(form, 'publish_at');
  return {
    title: field(form, 'title'),
    slug: field(form, 'slug') || undefined,
    // Markdown as typed (leading spaces mean code), with the browser's CRLF line ends made LF.
    markdown: form.get('markdown').replace(/\r\n/g, '\n'),
    excerpt: field(form, 'excerpt'),
    visibility: field(form, 'visibility') as Visibility,
    status: field(form, 'status') === 'published' ? 'published' : 'draft',
    tags: field(form, 'tags')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    emailOnly: field(form, 'email_only') === '1',
    featureImage: field(form, 'feature_image') || null,
    tiers: form.getAll('tier'),
    // The language block (components/PostLanguageFields.astro): '' is the site's language / no original.
    ...(form.has('language') ? { language: field(form, 'language') || null } : {}),
    ...(form.has('translation_of') ? { translationOf: field(form, 'translation_of') || null } : {}),
    // datetime-local has no zone: the form says the site's.
    publishAt: publishAt ? publishAtFromForm(publishAt, zone) : undefined,
  };
}

/** An invalid Date for text that is no time: the domain refuses it with its own message. */
function publishAtFromForm(value: string, zone: string): Date {
  return zonedToInstant(value, zone) ?? new Date(NaN);
}
