import { KINDS, variablesOf, type AutomaticEmailKind, type EmailTemplate, type VariableValues } from '../../../emails/automatic.ts';
import { button, escapeHtml, layout, palette, unescapeHtml, type Brand, type RenderedEmail } from '../../../emails/html.ts';
import { emailTranslator, frameLanguage } from '../../../emails/language.ts';
import { compile, htmlToText, inlineStyles, type Compiled } from '../../../emails/post.ts';
import { ValidationError } from '../../lib/errors.ts';
import { renderMarkdown } from '../content/markdown.ts';

/**
 * Staff's text of an automatic email, checked and compiled once (per kind, language, version and
 * brand), then filled per email by joining pieces: no Markdown is parsed per email.
 *
 * Compiling: each `{{variable}}` becomes a token the Markdown renderer leaves alone (a link
 * variable an absolute address, so `[Confirm]({{confirm_url}})` stays a link; any other a word),
 * the Markdown is rendered by the posts' safe renderer, a paragraph that is only a link becomes
 * the brand's button, the body gets the inline styles of a post's email and the brand's frame,
 * and each token becomes a slot. A required link is checked on that rendering, so Markdown that
 * would drop it (an unclosed bracket, a code span) is refused, not just a missing variable.
 */
export interface TemplateProblem {
  field: 'subject' | 'preheader' | 'markdown';
  /** The line (1-based) in that field, when the problem has one. */
  line: number | null;
  code: 'unknown_variable' | 'unbalanced_braces' | 'block_not_alone' | 'required_link' | 'variable_in_address' | 'too_long' | 'empty';
  message: string;
}

/** A template refused on save: every problem, the first one as the message. */
export class TemplateError extends ValidationError {
  readonly problems: TemplateProblem[];
  constructor(problems: TemplateProblem[]) {
    super(problems[0]!.message, problems[0]!.code);
    this.problems = problems;
  }
}

export interface CompiledTemplate {
  subject: Compiled;
  html: Compiled;
  text: Compiled;
}

const VARIABLE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const LIMITS = { subject: 300, preheader: 300, markdown: 50_000 } as const;
const FIELD_NAMES = { subject: 'the subject', preheader: 'the preheader', markdown: 'the body' } as const;

const isLink = (name: string) => /url$/.test(name);
const clean = (s: string) => s.replace(/[\u0001\u0002]/g, '');

/** Every problem of a template for a kind (empty when it can be saved). */
export function checkTemplate(kind: AutomaticEmailKind, template: EmailTemplate): TemplateProblem[] {
  const spec = KINDS[kind];
  const known = variablesOf(kind);
  const problems: TemplateProblem[] = [];
  for (const field of ['subject', 'preheader', 'markdown'] as const) {
    const value = template[field];
    if (value.length > LIMITS[field])
      problems.push({
        field,
        line: null,
        code: 'too_long',
        message: `${cap(FIELD_NAMES[field])} is longer than ${LIMITS[field]} characters.`,
      });
    if (field !== 'preheader' && value.trim() === '')
      problems.push({ field, line: null, code: 'empty', message: `${cap(FIELD_NAMES[field])} is empty.` });
    if (field === 'subject' && /[\r\n]/.test(value))
      problems.push({ field, line: null, code: 'too_long', message: 'The subject is one line.' });
    value.split(/\r?\n/).forEach((line, i) => {
      const where = field === 'markdown' ? `Line ${i + 1} of the body` : cap(FIELD_NAMES[field]);
      for (const m of line.matchAll(VARIABLE)) {
        const name = m[1]!;
        if (!(name in known)) {
          problems.push({
            field,
            line: i + 1,
            code: 'unknown_variable',
            message: `${where}: {{${name.slice(0, 40)}}} is not a variable of the ${spec.name.toLowerCase()} email. It knows ${Object.keys(
              known,
            )
              .map((v) => `{{${v}}}`)
              .join(', ')}.`,
          });
        } else if (spec.blocks.includes(name) && (field !== 'markdown' || line.trim() !== m[0])) {
          problems.push({
            field,
            line: i + 1,
            code: 'block_not_alone',
            message: `${where}: {{${name}}} is a block; it must stand on a line of its own in the body.`,
          });
        }
      }
      if (/\{\{|\}\}/.test(line.replace(VARIABLE, ''))) {
        problems.push({
          field,
          line: i + 1,
          code: 'unbalanced_braces',
          message: `${where}: "{{" and "}}" do not pair up; a variable is written {{name}}.`,
        });
      }
    });
  }
  if (problems.length > 0) return problems;
  // The required links, on the real rendering of the body.
  const { html } = renderBody(kind, template.markdown);
  const order = Object.keys(known);
  // Inside an attribute a variable may only start an address (a link of this site's own); a member's
  // private link (sign-in, confirm, redeem) or code inside another address would hand it to
  // another site ("https://elsewhere.example/?u={{signin_url}}").
  for (const [, attr, value] of html.matchAll(/([a-zA-Z-]+)="([^"]*)"/g)) {
    const tokens = [...value!.matchAll(TOKEN)];
    if (tokens.length === 0) continue;
    // An address that starts with one of this site's own links stays on this site ({{site.url}}/posts).
    if ((attr === 'href' || attr === 'src') && /^https:\/\/hearth\.invalid\/v\d+(?:[/?#]|$)/.test(value!)) continue;
    const name = order[Number(tokens[0]![1] ?? tokens[0]![2] ?? tokens[0]![3])]!;
    const at = template.markdown.split(/\r?\n/).findIndex((l) => [...l.matchAll(VARIABLE)].some((m) => m[1] === name));
    problems.push({
      field: 'markdown',
      line: at === -1 ? null : at + 1,
      code: 'variable_in_address',
      message: `${at === -1 ? 'The body' : `Line ${at + 1} of the body`}: {{${name}}} is inside a link or image address. A variable can only be a whole link address of its own, e.g. [Sign in]({{${name}}}), so a member's private links never go to another site.`,
    });
  }
  for (const name of spec.required) {
    const i = order.indexOf(name);
    const present = spec.blocks.includes(name) ? html.includes(blockToken(i)) : html.includes(`href="${linkToken(i)}"`);
    if (present) continue;
    const at = template.markdown.split(/\r?\n/).findIndex((l) => [...l.matchAll(VARIABLE)].some((m) => m[1] === name));
    problems.push({
      field: 'markdown',
      line: at === -1 ? null : at + 1,
      code: 'required_link',
      message:
        at === -1
          ? `The ${spec.name.toLowerCase()} email must contain {{${name}}}${spec.blocks.includes(name) ? '' : ' as a link'}: ${KINDS[kind].variables[name] ?? ''} Without it the email is no use to the member.`
          : `Line ${at + 1} of the body: {{${name}}} is not a link in the rendered email (inside code, or a bracket or parenthesis not closed?). The ${spec.name.toLowerCase()} email needs it as a link, e.g. [Confirm]({{${name}}}).`,
    });
  }
  return problems;
}

const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
const linkToken = (i: number) => `https://hearth.invalid/v${i}`;
const textToken = (i: number) => `HEARTHV${i}X`;
const blockToken = (i: number) => `HEARTHB${i}X`;
const TOKEN = /https:\/\/hearth\.invalid\/v(\d+)|HEARTHV(\d+)X|HEARTHB(\d+)X/g;

/** `{{variable}}` → its token (by its position in the kind's variable list). */
function tokenize(kind: AutomaticEmailKind, text: string): string {
  const order = Object.keys(variablesOf(kind));
  const blocks = KINDS[kind].blocks;
  return clean(text).replace(VARIABLE, (whole, name: string) => {
    const i = order.indexOf(name);
    if (i === -1) return whole;
    return blocks.includes(name) ? blockToken(i) : isLink(name) ? linkToken(i) : textToken(i);
  });
}

/** Tokens → slot markers (`\u0001name\u0001`; a block's slot is `block:name`). */
function slots(kind: AutomaticEmailKind, text: string): string {
  const order = Object.keys(variablesOf(kind));
  return text.replace(TOKEN, (_m, link?: string, word?: string, block?: string) => {
    const name = order[Number(link ?? word ?? block)]!;
    return `\u0001${block ? `block:${name}` : name}\u0001`;
  });
}

function renderBody(kind: AutomaticEmailKind, markdown: string): { html: string } {
  return { html: renderMarkdown(tokenize(kind, markdown)) };
}

/** Compiles a template (checked or not: an unknown variable is left as written). */
export function compileTemplate(kind: AutomaticEmailKind, lang: string, template: EmailTemplate, brand: Brand): CompiledTemplate {
  const tr = emailTranslator(lang);
  const p = palette(brand);
  const rendered = renderBody(kind, template.markdown).html.replace(/<p>(HEARTHB\d+X)<\/p>/g, '$1');
  const text = htmlToText(rendered.replace(/(HEARTHB\d+X)/g, '<p>$1</p>'));
  const withButtons = rendered.replace(/<p>\s*<a href="([^"]*)"[^>]*>(.*?)<\/a>\s*<\/p>/g, (whole, href: string, label: string) => {
    const words = unescapeHtml(label.replace(/<[^>]+>/g, '')).trim();
    return words && words !== unescapeHtml(href) ? button(unescapeHtml(href), words, p.accent) : whole;
  });
  const body = inlineStyles(withButtons, p.accent, brand.siteUrl, { linkColor: p.link, headingFont: p.headingFont });
  const footer = KINDS[kind].footer(tr);
  const html = layout(brand, {
    lang: frameLanguage(tr),
    preheader: tokenize(kind, template.preheader),
    bodyHtml: body,
    footerHtml: tokenize(kind, footer.html),
  });
  const footerText = footer.text ? `\n\n${tokenize(kind, footer.text)}` : '';
  return {
    subject: compile(slots(kind, tokenize(kind, template.subject.replace(/[\r\n]+/g, ' ')))),
    html: compile(slots(kind, html)),
    text: compile(`${slots(kind, text)}${slots(kind, footerText)}\n`),
  };
}

/** One email from a compiled template: joins, no parsing. Text values are escaped in the HTML part; blocks are HTML. */
export function fillTemplate(c: CompiledTemplate, values: VariableValues, brand: Brand): RenderedEmail {
  const text: Record<string, string> = { ...values.text, 'site.name': brand.title, 'site.url': brand.siteUrl };
  const value = (slot: string, part: 'html' | 'text') => {
    if (slot.startsWith('block:')) return values.blocks[slot.slice(6)]?.[part] ?? '';
    const v = text[slot] ?? '';
    return part === 'html' ? escapeHtml(v) : v;
  };
  return {
    subject: join(c.subject, (s) => (text[s] ?? '').replace(/[\r\n]+/g, ' ')).trim(),
    html: join(c.html, (s) => value(s, 'html')),
    text: join(c.text, (s) => value(s, 'text')),
  };
}

function join(c: Compiled, value: (slot: string) => string): string {
  let out = c.texts[0]!;
  for (let i = 0; i < c.slots.length; i++) out += value(c.slots[i]!) + c.texts[i + 1]!;
  return out;
}
