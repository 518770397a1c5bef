import type { StaffRole } from '../../db/types.ts';
import { can, type Permission } from '../domain/staff/permissions.ts';
import { ID_PATTERN } from '../lib/ids.ts';

/**
 * The one table every staff page and every /api/v1 route goes through (src/middleware.ts).
 * A path under /admin or /api that matches no row is refused: a new route is closed until it
 * is listed here with the permission it needs. `public` rows are the sign-in and setup pages.
 */
export type Access = 'public' | Permission;

interface Rule {
  pattern: RegExp;
  /** When set, only these methods; others get 405. */
  methods?: readonly string[];
  access: Access;
}

/** A whole-path pattern; `:id` stands for a row id (src/lib/ids.ts). */
function path(source: string): RegExp {
  return new RegExp(`^${source.replaceAll(':id', ID_PATTERN)}$`);
}

const READ = ['GET', 'HEAD'] as const;
const FORM = ['GET', 'HEAD', 'POST'] as const;

export const STAFF_ROUTES: readonly Rule[] = [
  { pattern: path('/admin/setup/?'), methods: FORM, access: 'public' },
  { pattern: path('/admin/signin/?'), methods: FORM, access: 'public' },
  { pattern: path('/admin/signout/?'), methods: ['POST'], access: 'dashboard:view' },
  { pattern: path('/admin/?'), methods: READ, access: 'dashboard:view' },
  { pattern: path('/admin/outbox/?'), methods: READ, access: 'outbox:read' },
  { pattern: path('/admin/live/?'), methods: READ, access: 'dashboard:view' },
  { pattern: path('/admin/waves/?'), methods: READ, access: 'members:read' },
  { pattern: path('/admin/waves/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/api/v1/signup-waves/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/signup-waves/:id/(release|drop)/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/admin/alerts/?'), methods: FORM, access: 'dashboard:view' },
  { pattern: path('/admin/outbox/\\d+(/html)?/?'), methods: READ, access: 'outbox:read' },
  { pattern: path('/admin/staff/?'), methods: FORM, access: 'staff:manage' },
  { pattern: path('/admin/tokens/?'), methods: FORM, access: 'tokens:manage-own' },
  { pattern: path('/admin/members/?'), methods: READ, access: 'members:read' },
  { pattern: path('/admin/members/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/admin/members/export\\.csv'), methods: READ, access: 'members:read' },
  { pattern: path('/admin/members/new/?'), methods: FORM, access: 'members:write' },
  { pattern: path('/admin/members/:id/?'), methods: READ, access: 'members:read' },
  { pattern: path('/admin/members/:id/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/admin/imports/?'), methods: FORM, access: 'members:write' },
  { pattern: path('/admin/imports/posts/?'), methods: FORM, access: 'posts:write' },
  { pattern: path('/admin/imports/:id/?'), methods: FORM, access: 'members:write' },
  { pattern: path('/admin/imports/:id/rejections\\.csv'), methods: READ, access: 'members:write' },
  { pattern: path('/admin/imports/:id/changes\\.csv'), methods: READ, access: 'members:write' },
  { pattern: path('/admin/referrals/?'), methods: READ, access: 'members:read' },
  { pattern: path('/admin/referrals/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/admin/referrals/milestones/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/audience/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/settings/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/design/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/checklist/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/export/?'), methods: READ, access: 'site:export' },
  { pattern: path('/admin/tiers/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/newsletters/?'), methods: FORM, access: 'newsletters:manage' },
  { pattern: path('/admin/tiers/sync/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/posts/?'), methods: READ, access: 'posts:write' },
  { pattern: path('/admin/posts/(new|:id)/?'), methods: FORM, access: 'posts:write' },
  { pattern: path('/admin/posts/:id/email'), methods: READ, access: 'posts:write' },
  { pattern: path('/admin/posts/preview'), methods: ['POST'], access: 'posts:write' },
  { pattern: path('/admin/uploads/?'), methods: ['POST'], access: 'posts:write' },
  { pattern: path('/admin/sends/?'), methods: READ, access: 'sends:write' },
  { pattern: path('/admin/sends/new/?'), methods: FORM, access: 'sends:write' },
  { pattern: path('/admin/sends/:id/?'), methods: FORM, access: 'sends:write' },
  { pattern: path('/admin/sends/:id/progress'), methods: READ, access: 'sends:write' },
  { pattern: path('/admin/posts/:id/conversation'), methods: ['POST'], access: 'posts:write' },
  { pattern: path('/admin/conversation/?'), methods: FORM, access: 'comments:moderate' },
  { pattern: path('/admin/conversation/(questions|comments|bans)/?'), methods: FORM, access: 'comments:moderate' },
  { pattern: path('/admin/conversation/settings/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/stats(/(sources|cohorts|answers))?/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/admin/stats/sends/:id/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/admin/stats/(overview|sources|cohorts)\\.csv'), methods: READ, access: 'stats:read' },
  { pattern: path('/admin/stats/sends/:id\\.csv'), methods: READ, access: 'stats:read' },
  { pattern: path('/admin/stats/sends/:id\\.json'), methods: READ, access: 'stats:read' },
  { pattern: path('/admin/stats/posts/:id(\\.csv)?/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/api/v1/stats/(overview|sources|cohorts|answers)/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/api/v1/stats/sends/:id/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/api/v1/stats/posts/:id/?'), methods: READ, access: 'stats:read' },
  { pattern: path('/api/v1/stats/members/:id/?'), methods: READ, access: 'stats:read' },
  // The API's contract, the same in every install: no site data, so no token needed (tools fetch it as is).
  { pattern: path('/api/v1/openapi\\.json'), methods: READ, access: 'public' },
  { pattern: path('/api/v1/me/?'), methods: READ, access: 'dashboard:view' },
  { pattern: path('/api/v1/members/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/members/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/api/v1/members/count/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/members/:id/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/members/:id/?'), methods: ['PATCH', 'DELETE'], access: 'members:write' },
  { pattern: path('/api/v1/imports/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/api/v1/posts/?'), methods: ['GET', 'HEAD', 'POST'], access: 'posts:write' },
  { pattern: path('/api/v1/posts/:id/?'), methods: ['GET', 'HEAD', 'PATCH'], access: 'posts:write' },
  { pattern: path('/api/v1/imports/:id/?'), methods: READ, access: 'members:write' },
  { pattern: path('/api/v1/imports/:id/start/?'), methods: ['POST'], access: 'members:write' },
  { pattern: path('/api/v1/imports/:id/changes/?'), methods: READ, access: 'members:write' },
  { pattern: path('/api/v1/sends/?'), methods: ['GET', 'HEAD', 'POST'], access: 'sends:write' },
  { pattern: path('/api/v1/sends/count/?'), methods: ['POST'], access: 'sends:write' },
  { pattern: path('/api/v1/sends/:id/?'), methods: READ, access: 'sends:write' },
  { pattern: path('/api/v1/sends/:id/(schedule|cancel|undo|pause|resume|retry|winner)/?'), methods: ['POST'], access: 'sends:write' },
  { pattern: path('/api/v1/newsletters/?'), methods: READ, access: 'newsletters:read' },
  { pattern: path('/api/v1/newsletters/?'), methods: ['POST'], access: 'newsletters:manage' },
  // Any one path segment: a slug that breaks the rules is the domain's 404, not the guard's.
  { pattern: path('/api/v1/newsletters/[^/]+/?'), methods: READ, access: 'newsletters:read' },
  { pattern: path('/api/v1/newsletters/[^/]+/?'), methods: ['PATCH', 'DELETE'], access: 'newsletters:manage' },
  { pattern: path('/api/v1/tiers/?'), methods: READ, access: 'tiers:read' },
  { pattern: path('/api/v1/tiers/?'), methods: ['POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/site/?'), methods: ['GET', 'HEAD', 'PATCH'], access: 'settings:manage' },
  { pattern: path('/api/v1/offers/?'), methods: ['GET', 'HEAD', 'POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/offers/:id/?'), methods: ['GET', 'HEAD', 'PATCH', 'DELETE'], access: 'settings:manage' },
  { pattern: path('/admin/offers/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/gifts/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/api/v1/billing/sync/?'), methods: ['POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/billing/sync/:id/?'), methods: READ, access: 'settings:manage' },
  { pattern: path('/admin/fediverse/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/api/v1/fediverse/?'), methods: READ, access: 'settings:manage' },
  { pattern: path('/api/v1/fediverse/following/?'), methods: ['GET', 'HEAD', 'POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/fediverse/blocks/?'), methods: ['GET', 'HEAD', 'POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/fediverse/blocks/[a-z0-9.:-]{1,260}'), methods: ['DELETE'], access: 'settings:manage' },
  { pattern: path('/api/v1/fediverse/received/?'), methods: READ, access: 'comments:moderate' },
  { pattern: path('/api/v1/fediverse/replies/?'), methods: ['POST'], access: 'comments:moderate' },
  { pattern: path('/api/v1/fediverse/bans/?'), methods: ['GET', 'HEAD', 'POST'], access: 'comments:moderate' },
  { pattern: path('/api/v1/fediverse/bans/:id/?'), methods: ['DELETE'], access: 'comments:moderate' },
  { pattern: path('/admin/recommendations/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/api/v1/recommendations/?'), methods: ['GET', 'HEAD', 'POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/recommendations/:id/?'), methods: ['DELETE'], access: 'settings:manage' },
  { pattern: path('/admin/webhooks/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/admin/webhooks/:id/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/api/v1/webhooks/?'), methods: ['GET', 'HEAD', 'POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/webhooks/:id/?'), methods: ['DELETE'], access: 'settings:manage' },
  { pattern: path('/api/v1/webhooks/:id/deliveries/?'), methods: READ, access: 'settings:manage' },
  { pattern: path('/api/v1/webhooks/:id/deliveries/:id/replay/?'), methods: ['POST'], access: 'settings:manage' },
  { pattern: path('/admin/fields/?'), methods: FORM, access: 'settings:manage' },
  { pattern: path('/api/v1/fields/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/fields/?'), methods: ['POST'], access: 'settings:manage' },
  { pattern: path('/api/v1/fields/[^/]+/?'), methods: READ, access: 'members:read' },
  { pattern: path('/api/v1/fields/[^/]+/?'), methods: ['PATCH', 'DELETE'], access: 'settings:manage' },
  { pattern: path('/admin/polls/?'), methods: FORM, access: 'posts:write' },
  { pattern: path('/admin/polls/:id/?'), methods: FORM, access: 'posts:write' },
  { pattern: path('/api/v1/polls/?'), methods: ['GET', 'HEAD', 'POST'], access: 'posts:write' },
  { pattern: path('/api/v1/polls/:id/?'), methods: ['GET', 'HEAD', 'PATCH'], access: 'posts:write' },
  { pattern: path('/api/v1/automations/?'), methods: ['GET', 'HEAD', 'POST'], access: 'sends:write' },
  { pattern: path('/api/v1/automations/hold/?'), methods: ['GET', 'HEAD', 'POST'], access: 'sends:write' },
  { pattern: path('/api/v1/automations/:id/?'), methods: ['GET', 'HEAD', 'PATCH', 'DELETE'], access: 'sends:write' },
  { pattern: path('/api/v1/automations/:id/(pause|resume)/?'), methods: ['POST'], access: 'sends:write' },
  { pattern: path('/api/v1/automations/:id/(stats|preview)/?'), methods: READ, access: 'sends:write' },
  { pattern: path('/admin/automations/?'), methods: FORM, access: 'sends:write' },
  { pattern: path('/admin/automations/(new|:id)/?'), methods: FORM, access: 'sends:write' },
  { pattern: path('/api/v1/comments/?'), methods: READ, access: 'comments:moderate' },
  { pattern: path('/api/v1/comments/:id/?'), methods: ['GET', 'HEAD', 'PATCH', 'DELETE'], access: 'comments:moderate' },
  { pattern: path('/api/v1/emails/?'), methods: READ, access: 'emails:write' },
  { pattern: path('/api/v1/emails/[a-z0-9_]+/?'), methods: ['GET', 'HEAD', 'PUT'], access: 'emails:write' },
  { pattern: path('/api/v1/emails/[a-z0-9_]+/versions/?'), methods: READ, access: 'emails:write' },
  { pattern: path('/api/v1/emails/[a-z0-9_]+/(reset|test)/?'), methods: ['POST'], access: 'emails:write' },
  { pattern: path('/admin/emails/?'), methods: READ, access: 'emails:write' },
  { pattern: path('/admin/emails/[a-z0-9_]+/?'), methods: FORM, access: 'emails:write' },
  { pattern: path('/admin/emails/[a-z0-9_]+/preview/?'), methods: ['POST'], access: 'emails:write' },
];

export function isStaffPath(pathname: string): boolean {
  return pathname === '/admin' || pathname.startsWith('/admin/') || pathname === '/api' || pathname.startsWith('/api/');
}

export type RouteDecision =
  | { kind: 'unknown' }
  | { kind: 'method_not_allowed'; allow: readonly string[] }
  | { kind: 'public' }
  | { kind: 'staff'; permission: Permission };

/** The first rule whose path and method match; a path listed only for other methods is a 405. */
export function decideRoute(pathname: string, method: string): RouteDecision {
  const rules = STAFF_ROUTES.filter((r) => r.pattern.test(pathname));
  if (rules.length === 0) return { kind: 'unknown' };
  const rule = rules.find((r) => !r.methods || r.methods.includes(method));
  if (!rule) return { kind: 'method_not_allowed', allow: [...new Set(rules.flatMap((r) => r.methods ?? []))] };
  return rule.access === 'public' ? { kind: 'public' } : { kind: 'staff', permission: rule.access };
}

export function allowed(role: StaffRole, permission: Permission): boolean {
  return can(role, permission);
}
