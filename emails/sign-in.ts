import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export interface SignInData {
  brand: Brand;
  link: string;
  code: string;
  /** True when this sign-in will also make them a (free) member. */
  newMember: boolean;
}

export function signInEmail(d: SignInData): RenderedEmail {
  const intro = d.newMember
    ? `Welcome! Click to sign in and become a free member of ${d.brand.title}.`
    : `Click to sign in to ${d.brand.title}.`;
  const bodyHtml = `<p>${escapeHtml(intro)}</p>
${button(d.link, 'Sign in', d.brand.accentColor)}
<p>Or enter this code on the sign-in page: <strong style="font-size:22px;letter-spacing:4px;">${escapeHtml(d.code)}</strong></p>
<p style="font-size:14px;color:#57534e;">The link and the code work for 24 hours. If you did not ask to sign in, ignore this email.</p>`;
  return {
    subject: `Your sign-in link for ${d.brand.title}`,
    html: layout(d.brand, { preheader: `Your code: ${d.code}`, bodyHtml }),
    text: `${intro}\n\n${d.link}\n\nOr enter this code: ${d.code}\n\nThe link and the code work for 24 hours. If you did not ask to sign in, ignore this email.\n`,
  };
}
