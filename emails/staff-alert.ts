import { escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export interface StaffAlertLine {
  summary: string;
  /** Absolute admin address where a human acts on it. */
  url: string;
}

export interface StaffAlertData {
  brand: Brand;
  /** One alert (immediate) or the hour's (digest). */
  alerts: StaffAlertLine[];
  digest: boolean;
  /** Where the staff user changes what they get. */
  settingsUrl: string;
}

/** An alert to a staff user: what needs a human, with a link to act. Ids and titles only, no member's address. */
export function staffAlertEmail(d: StaffAlertData): RenderedEmail {
  const first = d.alerts[0]?.summary ?? '';
  const subject = d.digest ? `${d.alerts.length} thing${d.alerts.length === 1 ? '' : 's'} need a human at ${d.brand.title}` : first;
  const items = d.alerts.map((a) => `<li><a href="${escapeHtml(a.url)}">${escapeHtml(a.summary)}</a></li>`).join('\n');
  return {
    subject,
    html: layout(d.brand, {
      preheader: d.digest ? 'The last hour, in one email.' : first,
      bodyHtml: `<ul>${items}</ul>\n<p style="font-size:13px;color:#666"><a href="${escapeHtml(d.settingsUrl)}">Change which alerts you get</a></p>`,
    }),
    text: `${d.alerts.map((a) => `- ${a.summary}\n  ${a.url}`).join('\n')}\n\nChange which alerts you get: ${d.settingsUrl}\n`,
  };
}
