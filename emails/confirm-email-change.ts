import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export function confirmEmailChangeEmail(d: { brand: Brand; link: string; newEmail: string }): RenderedEmail {
  const bodyHtml = `<p>Please confirm that <strong>${escapeHtml(d.newEmail)}</strong> is the new address of your ${escapeHtml(d.brand.title)} membership.</p>
${button(d.link, 'Confirm my new address', d.brand.accentColor)}
<p style="font-size:14px;color:#57534e;">The link works for 24 hours. If you did not ask for this, ignore this email: nothing changes.</p>`;
  return {
    subject: `Confirm your new address for ${d.brand.title}`,
    html: layout(d.brand, { preheader: 'One click to confirm your new address.', bodyHtml }),
    text: `Please confirm that ${d.newEmail} is the new address of your ${d.brand.title} membership:\n\n${d.link}\n\nThe link works for 24 hours. If you did not ask for this, ignore this email: nothing changes.\n`,
  };
}
