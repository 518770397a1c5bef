import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAssets } from '../../src/server.ts';

/** The built static files are listed once at start (src/server.ts): what each is answered with. */
describe('loadAssets', () => {
  it('lists the build’s files by address with their type, validators and caching; dot files are left out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-assets-'));
    mkdirSync(join(dir, '_astro'));
    writeFileSync(join(dir, '_astro', 'site.abc123.css'), 'body{color:red}');
    writeFileSync(join(dir, 'robots.txt'), 'User-agent: *\n');
    writeFileSync(join(dir, '.env'), 'SECRET=1');
    const assets = loadAssets(dir);
    expect([...assets.keys()].sort()).toEqual(['/_astro/site.abc123.css', '/robots.txt']);
    const css = assets.get('/_astro/site.abc123.css')!;
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['content-length']).toBe('15');
    expect(css.headers['cache-control']).toContain('immutable');
    expect(css.headers.etag).toMatch(/^"[\w-]{22}"$/);
    expect(css.body?.toString()).toBe('body{color:red}');
    expect(assets.get('/robots.txt')!.headers['cache-control']).toBe('public, max-age=0');
    expect(loadAssets(join(dir, 'missing')).size).toBe(0);
  });
});
