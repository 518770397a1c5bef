import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLES, can, assignableRoles } from '../../src/domain/staff/permissions.ts';
import { decideRoute, STAFF_ROUTES } from '../../src/web/guard.ts';

const PAGES = join(import.meta.dirname, '../../src/pages');

/** Page files; a name starting with "_" is not a route (Astro skips it). */
function files(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('_'))
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
}

/** The URL a page file answers, with [param] replaced by a sample value. */
function samplePath(file: string): string {
  const route = relative(PAGES, file)
    .split(sep)
    .join('/')
    .replace(/\.(astro|ts)$/, '')
    .replace(/\/index$/, '')
    .replace(/^index$/, '');
  return '/' + route.replace(/\[[^\]]+\]/g, '1');
}

describe('the staff route table', () => {
  const staffPages = files(PAGES).filter((f) => /^\/(admin|api)(\/|$)/.test(samplePath(f)));

  it('finds the staff pages', () => {
    expect(staffPages.length).toBeGreaterThanOrEqual(8);
  });

  it.each(staffPages.map((f) => [samplePath(f)]))('covers %s', (path) => {
    const decision = decideRoute(path, 'GET');
    const post = decideRoute(path, 'POST');
    expect(decision.kind === 'unknown' && post.kind === 'unknown').toBe(false);
  });

  it('refuses paths it does not list', () => {
    expect(decideRoute('/admin/secret-new-page', 'GET').kind).toBe('unknown');
    expect(decideRoute('/api/v1/anything', 'GET').kind).toBe('unknown');
    expect(decideRoute('/api/v1/newsletters', 'DELETE').kind).toBe('method_not_allowed');
  });

  it('keeps only sign-in, setup and the API contract (openapi.json, no site data) public', () => {
    const publicRules = STAFF_ROUTES.filter((r) => r.access === 'public').map((r) => r.pattern.source);
    expect(publicRules).toEqual(['^\\/admin\\/setup\\/?$', '^\\/admin\\/signin\\/?$', '^\\/api\\/v1\\/openapi\\.json$']);
    expect(decideRoute('/api/v1/openapi.json', 'GET').kind).toBe('public');
    expect(decideRoute('/api/v1/openapi.json', 'POST').kind).toBe('method_not_allowed');
  });
});

describe('role permissions', () => {
  it('gives the owner every permission', () => {
    for (const p of Object.keys(PERMISSIONS) as Array<keyof typeof PERMISSIONS>) expect(can('owner', p)).toBe(true);
  });

  it('keeps staff management to owners and admins, moderation from editors, the outbox from moderators', () => {
    expect(ROLES.filter((r) => can(r, 'staff:manage'))).toEqual(['owner', 'admin']);
    expect(ROLES.filter((r) => can(r, 'comments:moderate'))).toEqual(['owner', 'admin', 'moderator']);
    expect(ROLES.filter((r) => can(r, 'outbox:read'))).toEqual(['owner', 'admin', 'editor']);
    expect(ROLES.filter((r) => can(r, 'posts:write'))).toEqual(['owner', 'admin', 'editor']);
    expect(ROLES.filter((r) => can(r, 'emails:write'))).toEqual(['owner', 'admin', 'editor']);
  });

  it('lets an admin hand out every role but owner, and nobody else hand out roles', () => {
    expect(assignableRoles('owner')).toEqual(['owner', 'admin', 'editor', 'moderator']);
    expect(assignableRoles('admin')).toEqual(['admin', 'editor', 'moderator']);
    expect(assignableRoles('editor')).toEqual([]);
    expect(assignableRoles('moderator')).toEqual([]);
  });
});
