import type { APIRoute } from 'astro';
import { kindOf, languageOrSite, previewAutomaticEmail } from '../../../../domain/emails/emails.ts';
import { DomainError } from '../../../../lib/errors.ts';
import { statusFor } from '../../../../web/http.ts';
import { EDITOR_FORM_BYTES, field, readFields } from '../../../../web/request-data.ts';

/**
 * The editor's live preview: the form's subject, preheader and body (not saved) for a sample
 * member, as the email's HTML for a sandboxed frame. A template that does not check answers 400
 * with its line and reason.
 */
export const POST: APIRoute = async ({ params, request, locals }) => {
  const { db, config } = locals.runtime;
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'",
    'cache-control': 'no-store',
  };
  try {
    const kind = kindOf(params.kind);
    const form = await readFields(request, { maxBytes: EDITOR_FORM_BYTES });
    const language = await languageOrSite(db, field(form, 'language'));
    const email = await previewAutomaticEmail(db, config.siteUrl, kind, language, {
      subject: field(form, 'subject'),
      preheader: field(form, 'preheader'),
      markdown: field(form, 'markdown'),
    });
    const subject = email.subject.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const banner = `<div style="font:14px/1.4 system-ui,sans-serif;padding:8px 12px;background:#f5f5f4;border-bottom:1px solid #e7e5e4">Subject: <strong>${subject}</strong></div>`;
    return new Response(
      email.html.replace(/<body([^>]*)>/, (m) => `${m}${banner}`),
      { headers },
    );
  } catch (err) {
    if (err instanceof DomainError) {
      const message = err.message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      return new Response(`<!doctype html><p style="font:14px system-ui,sans-serif;color:#b91c1c">${message}</p>`, {
        status: statusFor(err),
        headers,
      });
    }
    throw err;
  }
};
