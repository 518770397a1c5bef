import { button, escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

export interface WelcomeData {
  brand: Brand;
  name: string | null;
  newsletters: string[];
  preferencesUrl: string;
}

export function welcomeEmail(d: WelcomeData): RenderedEmail {
  const greeting = d.name ? `Welcome, ${d.name}!` : 'Welcome!';
  const list = d.newsletters.length > 0 ? d.newsletters.join(', ') : d.brand.title;
  const bodyHtml = `<p><strong>${escapeHtml(greeting)}</strong></p>
<p>You are subscribed to <strong>${escapeHtml(list)}</strong>. Our letters come straight from us to you: no feed, no algorithm in between.</p>
<p>Reply to any email to reach a person.</p>
${button(d.brand.siteUrl, `Visit ${d.brand.title}`, d.brand.accentColor)}`;
  const text = `${greeting}

You are subscribed to ${list}. Our letters come straight from us to you: no feed, no algorithm in between.

Reply to any email to reach a person.

${d.brand.siteUrl}

Change what you receive or unsubscribe: ${d.preferencesUrl}
`;
  return {
    subject: `Welcome to ${d.brand.title}`,
    html: layout(d.brand, {
      preheader: `You are subscribed to ${list}.`,
      bodyHtml,
      footerHtml: `<a href="${escapeHtml(d.preferencesUrl)}" style="color:#78716c;">Change what you receive or unsubscribe</a>`,
    }),
    text,
  };
}
