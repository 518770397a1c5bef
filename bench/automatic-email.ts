/**
 * Automatic emails per second on one core, with staff's own text (compiled once, then filled per
 * email) against today's template (rendered whole per email), for the welcome email in French.
 * The per-email lookup of the live version (one indexed query) is not counted: the templates
 * are CPU only. Usage: node bench/automatic-email.ts [N]
 */
import { KINDS, defaultTemplate } from '../emails/automatic.ts';
import { emailTranslator } from '../emails/language.ts';
import { compileTemplate, fillTemplate } from '../src/domain/emails/template.ts';

const n = Number(process.argv[2] ?? 100_000);
const brand = { title: 'Field Notes Coffee', accentColor: '#9a3412', siteUrl: 'https://news.example.com' };
const lang = 'fr';
const tr = emailTranslator(lang);
const spec = KINDS.welcome;
const data = (i: number) => ({
  lang,
  brand,
  name: `Reader ${i}`,
  newsletters: ['La Gazette'],
  preferencesUrl: `https://news.example.com/unsubscribe?token=${i.toString(36)}.abcdefghijklmnopqrstuvwxyz0123456789`,
});

const t0 = performance.now();
const compiled = compileTemplate('welcome', lang, defaultTemplate('welcome', lang), brand);
const compileMs = performance.now() - t0;

function rate(render: (i: number) => { html: string; text: string }): number {
  let bytes = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const email = render(i);
    bytes += Buffer.byteLength(email.html) + Buffer.byteLength(email.text);
  }
  if (bytes === 0) throw new Error('nothing rendered');
  return Math.round(n / ((performance.now() - start) / 1000));
}

const override = rate((i) => fillTemplate(compiled, spec.values(data(i), tr), brand));
const template = rate((i) => spec.render(data(i)));
console.log(
  JSON.stringify({ emails: n, compile_ms: Math.round(compileMs * 10) / 10, override_per_s: override, default_template_per_s: template }),
);
