/**
 * Personalised emails per second for a long post on one core: the send engine renders each
 * variant once per language and then fills three slots per member. Two figures in one run: every
 * member in the site's language (as before languages), and members alternating English and
 * French, each email taken from its language's rendering (sending/payload.ts renderingFor).
 * Usage: npm run bench:email -- [N]
 */
import { personalize, renderPostEmail, type CompiledEmail } from '../emails/post.ts';
import { renderMarkdown } from '../src/domain/content/markdown.ts';
import { renderingFor, type RenderedSend } from '../src/domain/sending/payload.ts';

const n = Number(process.argv[2] ?? 200_000);
const paragraph =
  'We cupped forty lots this spring, and one of them made the whole roastery go quiet. **Jasmine**, bergamot, and a [very patient farmer](/posts/guji) in Guji. ';
const markdown = Array.from({ length: 60 }, (_v, i) => (i % 10 === 0 ? `## Part ${i / 10 + 1}\n\n` : '') + paragraph.repeat(3)).join(
  '\n\n',
);
const brand = { title: 'Field Notes Coffee', accentColor: '#9a3412', siteUrl: 'https://news.example.com' };

const render = (lang: string): CompiledEmail =>
  renderPostEmail({
    brand,
    lang,
    title: 'The washed Ethiopian that changed our menu',
    url: 'https://news.example.com/posts/x',
    bodyHtml: renderMarkdown(markdown),
    cut: false,
    upgradeUrl: '',
  });

const t0 = performance.now();
const english = render('en');
const renderMs = performance.now() - t0;
const rendered: RenderedSend = { full: english, preview: null, languages: { fr: { full: render('fr'), preview: null } } };

function run(languageOf: (i: number) => string | null): { emailsPerSecond: number; averageBytes: number } {
  let bytes = 0;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) {
    const compiled = renderingFor(rendered, languageOf(i)).full;
    const email = personalize(compiled, {
      name: `Reader ${i}`,
      unsubscribe_url: `https://news.example.com/unsubscribe?token=${i.toString(36)}.abcdefghijklmnopqrstuvwxyz0123456789`,
      preferences_url: `https://news.example.com/unsubscribe?token=${i.toString(36)}.abcdefghijklmnopqrstuvwxyz0123456789`,
    });
    // Counting UTF-8 bytes flattens the strings, as serialising them for the provider would.
    bytes += Buffer.byteLength(email.html) + Buffer.byteLength(email.text);
  }
  const seconds = (performance.now() - t1) / 1000;
  return { emailsPerSecond: Math.round(n / seconds), averageBytes: Math.round(bytes / n) };
}

const oneLanguage = run(() => null);
const twoLanguages = run((i) => (i % 2 === 0 ? null : 'fr'));
console.log(
  JSON.stringify({
    figure: 'personalised post emails',
    emails: n,
    htmlKB: Math.round(personalize(english, { name: 'x', unsubscribe_url: 'x', preferences_url: 'x' }).html.length / 1024),
    renderOnceMs: Number(renderMs.toFixed(1)),
    emailsPerSecond: oneLanguage.emailsPerSecond,
    averageBytes: oneLanguage.averageBytes,
    twoLanguagesEmailsPerSecond: twoLanguages.emailsPerSecond,
  }),
);
