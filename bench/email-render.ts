/**
 * Personalised emails per second for a long post on one core: the send engine renders each
 * variant once and then fills three slots per member. Usage: npm run bench:email -- [N]
 */
import { personalize, renderPostEmail } from '../emails/post.ts';
import { renderMarkdown } from '../src/domain/content/markdown.ts';

const n = Number(process.argv[2] ?? 200_000);
const paragraph =
  'We cupped forty lots this spring, and one of them made the whole roastery go quiet. **Jasmine**, bergamot, and a [very patient farmer](/posts/guji) in Guji. ';
const markdown = Array.from({ length: 60 }, (_v, i) => (i % 10 === 0 ? `## Part ${i / 10 + 1}\n\n` : '') + paragraph.repeat(3)).join(
  '\n\n',
);
const brand = { title: 'Field Notes Coffee', accentColor: '#9a3412', siteUrl: 'https://news.example.com' };

const t0 = performance.now();
const compiled = renderPostEmail({
  brand,
  title: 'The washed Ethiopian that changed our menu',
  url: 'https://news.example.com/posts/x',
  bodyHtml: renderMarkdown(markdown),
  cut: false,
  upgradeUrl: '',
});
const renderMs = performance.now() - t0;

let bytes = 0;
const t1 = performance.now();
for (let i = 0; i < n; i++) {
  const email = personalize(compiled, {
    name: `Reader ${i}`,
    unsubscribe_url: `https://news.example.com/unsubscribe?token=${i.toString(36)}.abcdefghijklmnopqrstuvwxyz0123456789`,
    preferences_url: `https://news.example.com/unsubscribe?token=${i.toString(36)}.abcdefghijklmnopqrstuvwxyz0123456789`,
  });
  // Counting UTF-8 bytes flattens the strings, as serialising them for the provider would.
  bytes += Buffer.byteLength(email.html) + Buffer.byteLength(email.text);
}
const seconds = (performance.now() - t1) / 1000;
console.log(
  JSON.stringify({
    figure: 'personalised post emails',
    emails: n,
    htmlKB: Math.round(personalize(compiled, { name: 'x', unsubscribe_url: 'x', preferences_url: 'x' }).html.length / 1024),
    renderOnceMs: Number(renderMs.toFixed(1)),
    emailsPerSecond: Math.round(n / seconds),
    averageBytes: Math.round(bytes / n),
  }),
);
