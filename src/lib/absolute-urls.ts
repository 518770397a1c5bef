/**
 * Makes the root-relative and protocol-relative addresses of an HTML fragment absolute against
 * `origin`, for places read away from the site (feeds, email): `src`, `href`, `poster` and each
 * `srcset` candidate. Absolute, `mailto:`, `#fragment` and `data:` addresses are left as they are.
 */
export function absoluteUrls(html: string, origin: string): string {
  const base = origin.replace(/\/+$/, '');
  const absolute = (url: string) => {
    if (url.startsWith('//')) return `${new URL(base).protocol}${url}`;
    if (url.startsWith('/')) return `${base}${url}`;
    return url;
  };
  return html.replace(
    /\s(src|href|poster|srcset)=("([^"]*)"|'([^']*)')/gi,
    (_match, name: string, quoted: string, dq?: string, sq?: string) => {
      const value = dq ?? sq ?? '';
      const quote = quoted[0];
      const rewritten =
        name.toLowerCase() === 'srcset'
          ? value
              .split(',')
              .map((candidate) => candidate.trim().replace(/^(\S+)/, (url) => absolute(url)))
              .join(', ')
          : absolute(value);
      return ` ${name}=${quote}${rewritten}${quote}`;
    },
  );
}
