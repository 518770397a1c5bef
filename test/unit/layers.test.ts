import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers of DESIGN's architecture, checked on the source: pages → web → domain → lib, and an
 * arrow never points up. Migrations are frozen in time and import no app code at all.
 */
const ROOT = resolve(import.meta.dirname, '../..');

const RULES: Array<{ from: string; mayNotImport: string[] }> = [
  { from: 'src/lib', mayNotImport: ['src/domain', 'src/web', 'src/pages'] },
  { from: 'src/domain', mayNotImport: ['src/web', 'src/pages'] },
  { from: 'src/web', mayNotImport: ['src/pages'] },
  { from: 'db/migrations', mayNotImport: ['src', 'db', 'emails'] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|js|mjs|astro)$/.test(name) ? [p] : [];
  });
}

/** Every module specifier of a file: static imports and re-exports, side-effect imports, import(). */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]!);
  return found;
}

/** The repository path a relative specifier points at ('' for a package). */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return '';
  return relative(ROOT, resolve(dirname(file), specifier))
    .split(sep)
    .join('/');
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function violations(rule: (typeof RULES)[number]): string[] {
  const out: string[] = [];
  // Migrations are a flat folder of files; their own siblings are not app code.
  const own = rule.from === 'db/migrations' ? rule.from : undefined;
  for (const file of sourceFiles(join(ROOT, rule.from))) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const to = target(file, spec);
      if (!to || (own && within(to, own))) continue;
      if (rule.mayNotImport.some((dir) => within(to, dir))) out.push(`${relative(ROOT, file).split(sep).join('/')} → ${to}`);
    }
  }
  return out;
}

describe('layers', () => {
  it('finds the import forms it is meant to catch', () => {
    const code = `import a from '../domain/x.ts';\nimport type { B } from "../web/y.ts";\nexport { c } from '../pages/z.ts';\nimport '../domain/side.ts';\nconst d = await import('../web/lazy.ts');`;
    expect(specifiers(code)).toEqual(['../domain/x.ts', '../web/y.ts', '../pages/z.ts', '../domain/side.ts', '../web/lazy.ts']);
  });

  it.each(RULES.map((r) => [r.from, r]))('%s imports nothing from a layer above it', (_from, rule) => {
    expect(sourceFiles(join(ROOT, rule.from)).length).toBeGreaterThan(0);
    expect(violations(rule)).toEqual([]);
  });
});
