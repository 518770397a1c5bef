import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Finds English left in a page or an email meant for another language: text of the English
 * catalogue that the other language writes differently, and common English words. The text
 * checked must not hold English on purpose (use French names and titles in the test's data).
 */
export const LOCALES = join(import.meta.dirname, '..', '..', 'locales');

export function catalogue(lang: string, dir = LOCALES): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, value: unknown) => {
    if (typeof value === 'string') out.set(prefix, value);
    else for (const [k, v] of Object.entries(value as object)) walk(`${prefix}.${k}`, v);
  };
  for (const file of readdirSync(join(dir, lang))) {
    if (!file.endsWith('.json') || file === 'meta.json') continue;
    walk(file.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, lang, file), 'utf8')));
  }
  return out;
}

/** The literal runs of a message: what stays once its arguments and tags are taken out. */
function literalRuns(message: string): string[] {
  const runs: string[] = [];
  let depth = 0;
  let run = '';
  for (const ch of message) {
    if (ch === '{') {
      if (depth === 0) runs.push(run);
      run = '';
      depth++;
    } else if (ch === '}') depth = Math.max(0, depth - 1);
    else if (depth === 0) run += ch;
  }
  runs.push(run);
  return runs
    .flatMap((r) => r.split(/<\/?[a-z]+>/))
    .map((r) => r.replace(/\s+/g, ' ').trim())
    .filter((r) => r.length >= 12 && /[a-z]{3,}/i.test(r));
}

const ENGLISH_WORDS =
  /\b(the|your|you|and|this|with|please|here|from|what|which|sign in|subscribe|subscribed|read|reply|members?|posts?|unsubscribe|thank|welcome|click|free|paid|join|account|comments|more|will|are|is|of|to|for|at|by|yes|no|back|about|save|saved|share|link|send|new|not)\b/gi;

/** Visible text of HTML: no tags, no scripts or styles, entities decoded, addresses removed. */
export function visibleText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;|&#160;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\s+/g, ' ');
}

export function englishLeftovers(text: string, lang: string, allowed: readonly string[] = []): string[] {
  const en = catalogue('en');
  const other = catalogue(lang);
  let rest = text;
  for (const a of allowed) rest = rest.split(a).join(' ');
  const found = new Set<string>();
  for (const [key, message] of en) {
    if (other.get(key) === message) continue;
    for (const run of literalRuns(message)) if (rest.includes(run)) found.add(`${key}: "${run}"`);
  }
  for (const m of rest.matchAll(ENGLISH_WORDS)) found.add(`word "${m[0]}" in "…${rest.slice(Math.max(0, m.index - 40), m.index + 40)}…"`);
  return [...found];
}
