import type { PostInput } from '../domain/content/editor.ts';
import type { Visibility } from '../domain/content/access.ts';
import { field } from './http.ts';

/** The editor form's fields as a PostInput (validation is the domain's). */
export function postInputFromForm(form: FormData): PostInput {
  const markdown = form.get('markdown');
  return {
    title: field(form, 'title'),
    slug: field(form, 'slug') || undefined,
    markdown: typeof markdown === 'string' ? markdown.replace(/\r\n/g, '\n') : '',
    excerpt: field(form, 'excerpt'),
    visibility: field(form, 'visibility') as Visibility,
    status: field(form, 'status') === 'published' ? 'published' : 'draft',
    tags: field(form, 'tags').split(',').map((t) => t.trim()).filter(Boolean),
    emailOnly: field(form, 'email_only') === '1',
    featureImage: field(form, 'feature_image') || null,
    tiers: form.getAll('tier').filter((v): v is string => typeof v === 'string'),
    // datetime-local has no zone: the form says UTC.
    publishAt: field(form, 'publish_at') ? new Date(`${field(form, 'publish_at')}:00Z`) : undefined,
  };
}
