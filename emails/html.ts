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
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/**
 * The shared frame of Hearth's emails: a table layout with inline styles (what Gmail, Outlook
 * and Apple Mail all render), the brand's name as a text header, and nothing loaded from
 * anywhere: no remote font, image or script.
 */
export function layout(
  brand: Brand,
  options: { preheader: string; bodyHtml: string; footerHtml?: string; lang?: { code: string; dir: 'ltr' | 'rtl' } },
): string {
  const accent = /^#[0-9a-fA-F]{6}$/.test(brand.accentColor) ? brand.accentColor : '#9a3412';
  return `<!doctype html>
<html lang="${escapeHtml(options.lang?.code ?? 'en')}" dir="${options.lang?.dir ?? 'ltr'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light"><title>${escapeHtml(brand.title)}</title></head>
<body style="margin:0;padding:0;background:#f5f5f4;">
<span style="display:none;max-height:0;overflow:hidden;">${escapeHtml(options.preheader)}</span>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f5f5f4;"><tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;">
<tr><td style="padding:24px 32px 0 32px;font-family:Helvetica,Arial,sans-serif;font-size:18px;font-weight:bold;color:${accent};">${escapeHtml(brand.title)}</td></tr>
<tr><td style="padding:16px 32px 24px 32px;font-family:Georgia,'Times New Roman',serif;font-size:16px;line-height:1.6;color:#1c1917;">${options.bodyHtml}</td></tr>
</table>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;"><tr><td style="padding:16px 32px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:1.5;color:#78716c;">${options.footerHtml ?? ''}</td></tr></table>
</td></tr></table>
</body></html>`;
}

export function button(href: string, label: string, accentColor: string): string {
  const accent = /^#[0-9a-fA-F]{6}$/.test(accentColor) ? accentColor : '#9a3412';
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="margin:24px 0;"><tr><td style="border-radius:6px;background:${accent};"><a href="${escapeHtml(href)}" style="display:inline-block;padding:12px 22px;font-family:Helvetica,Arial,sans-serif;font-size:16px;color:#ffffff;text-decoration:none;font-weight:bold;">${escapeHtml(label)}</a></td></tr></table>`;
}
