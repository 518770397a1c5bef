import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The deployment files name exactly the variables the README's configuration table documents,
 * and the code reads none that the table misses. (The image itself is built where Docker is.)
 */
const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** Variables compose.yaml uses for its own PostgreSQL; Hearth never reads them. */
const COMPOSE_ONLY = ['POSTGRES_PASSWORD'];

function tableVariables(): string[] {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n### ', readme.indexOf('\n## Configuration\n')));
  return [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!).sort();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? sourceFiles(path) : /\.(ts|astro|mjs)$/.test(name) ? [path] : [];
  });
}

describe('deployment files', () => {
  const table = tableVariables();

  it('the README table is found and lists each variable once', () => {
    expect(table.length).toBeGreaterThan(15);
    expect(new Set(table).size).toBe(table.length);
    for (const v of ['DATABASE_URL', 'SITE_URL', 'APP_SECRET', 'TRUST_PROXY', 'DNS_SERVERS', 'EMBEDDED_PG_PORT'])
      expect(table).toContain(v);
  });

  it('the code reads no variable the table misses', () => {
    const config = read('src/lib/config.ts');
    const schema = config.slice(
      config.indexOf('const schema = z.object({'),
      config.indexOf('\n});', config.indexOf('const schema = z.object({')),
    );
    const read_ = new Set([...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
    for (const file of ['src', 'db', 'emails'].flatMap(sourceFiles)) {
      for (const m of read(file).matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|process\.env\[['"]([A-Z][A-Z0-9_]*)['"]\]/g))
        read_.add((m[1] ?? m[2])!);
    }
    // The Astro adapter's switches, set by Hearth's own server, not by operators.
    const internal = ['ASTRO_NODE_AUTOSTART', 'ASTRO_NODE_LOGGING'];
    expect([...read_].filter((v) => !internal.includes(v) && !table.includes(v))).toEqual([]);
    expect(read_.size).toBeGreaterThan(15);
  });

  it('.env.example names exactly the table variables (and the compose database password)', () => {
    const names = [...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => !COMPOSE_ONLY.includes(n)).sort()).toEqual(table);
  });

  it('compose.yaml gives the web and the worker exactly the table variables, and runs PostgreSQL', () => {
    const compose = parse(read('compose.yaml'), { merge: true }) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string>; image?: string; build?: unknown }>;
    };
    const { db, web, worker } = compose.services;
    expect(db?.image).toMatch(/^postgres:/);
    expect(web?.command).toEqual(['serve', '--no-worker']);
    expect(worker?.command).toEqual(['worker']);
    expect(Object.keys(web!.environment!).sort()).toEqual(table);
    expect(Object.keys(worker!.environment!).sort()).toEqual(table);
    // Whatever compose.yaml interpolates is a table variable or its own database's password.
    const interpolated = [...read('compose.yaml').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
    expect(interpolated.filter((v) => !table.includes(v) && !COMPOSE_ONLY.includes(v))).toEqual([]);
  });

  it('the Dockerfile builds in one stage and runs production dependencies as a non-root user, with a health check', () => {
    const dockerfile = read('Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER (?!root)\w+/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*[\s\S]*\/healthz/m);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
  });
});
