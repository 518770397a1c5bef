import { escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export interface InstallTestData {
  brand: Brand;
  /** Where the install checklist is, to go back to. */
  checklistUrl: string;
  /** The sender, as members will see it. */
  from: string;
}

/** The install checklist's "test email to yourself": proof that mail leaves, and what it looks like. */
export function installTestEmail(d: InstallTestData): RenderedEmail {
  const lines = [
    `This is a test email from ${d.brand.title}, sent from the install checklist.`,
    `It came from ${d.from}. If it landed in spam, check the SPF, DKIM and DMARC lines of the checklist.`,
  ];
  return {
    subject: `Test email from ${d.brand.title}`,
    html: layout(d.brand, {
      preheader: 'Your Hearth install can send email.',
      bodyHtml: `${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<p><a href="${escapeHtml(d.checklistUrl)}">Back to the checklist</a></p>`,
    }),
    text: `${lines.join('\n\n')}\n\nBack to the checklist: ${d.checklistUrl}\n`,
  };
}
