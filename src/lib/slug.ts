/** A URL slug from a title or name: ASCII letters, digits and hyphens, accents folded. */
export function slugify(text: string, maxLength = 80, fallback = 'post'): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/, '');
  return slug || fallback;
}
