import type { StaffRole } from '../../db/types.ts';
import { can, type Permission } from '../domain/staff/permissions.ts';

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

const READ = ['GET', 'HEAD'] as const;
const FORM = ['GET', 'HEAD', 'POST'] as const;

export const STAFF_ROUTES: readonly Rule[] = [
  { pattern: /^\/admin\/setup\/?$/, methods: FORM, access: 'public' },
  { pattern: /^\/admin\/signin\/?$/, methods: FORM, access: 'public' },
  { pattern: /^\/admin\/signout\/?$/, methods: ['POST'], access: 'dashboard:view' },
  { pattern: /^\/admin\/?$/, methods: READ, access: 'dashboard:view' },
  { pattern: /^\/admin\/outbox\/?$/, methods: READ, access: 'outbox:read' },
  { pattern: /^\/admin\/outbox\/\d+(\/html)?\/?$/, methods: READ, access: 'outbox:read' },
  { pattern: /^\/admin\/staff\/?$/, methods: FORM, access: 'staff:manage' },
  { pattern: /^\/admin\/tokens\/?$/, methods: FORM, access: 'tokens:manage-own' },
  { pattern: /^\/admin\/members\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/admin\/members\/?$/, methods: ['POST'], access: 'members:write' },
  { pattern: /^\/admin\/members\/export\.csv$/, methods: READ, access: 'members:read' },
  { pattern: /^\/admin\/members\/new\/?$/, methods: FORM, access: 'members:write' },
  { pattern: /^\/admin\/members\/\d{1,18}\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/admin\/members\/\d{1,18}\/?$/, methods: ['POST'], access: 'members:write' },
  { pattern: /^\/admin\/imports\/?$/, methods: FORM, access: 'members:write' },
  { pattern: /^\/admin\/imports\/\d{1,18}\/?$/, methods: FORM, access: 'members:write' },
  { pattern: /^\/admin\/imports\/\d{1,18}\/rejections\.csv$/, methods: READ, access: 'members:write' },
  { pattern: /^\/admin\/referrals\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/admin\/referrals\/?$/, methods: ['POST'], access: 'members:write' },
  { pattern: /^\/admin\/referrals\/milestones\/?$/, methods: FORM, access: 'settings:manage' },
  { pattern: /^\/admin\/audience\/?$/, methods: FORM, access: 'settings:manage' },
  { pattern: /^\/admin\/settings\/?$/, methods: FORM, access: 'settings:manage' },
  { pattern: /^\/admin\/tiers\/?$/, methods: FORM, access: 'settings:manage' },
  { pattern: /^\/admin\/posts\/?$/, methods: READ, access: 'posts:write' },
  { pattern: /^\/admin\/posts\/(new|\d{1,18})\/?$/, methods: FORM, access: 'posts:write' },
  { pattern: /^\/admin\/posts\/\d{1,18}\/email$/, methods: READ, access: 'posts:write' },
  { pattern: /^\/admin\/posts\/preview$/, methods: ['POST'], access: 'posts:write' },
  { pattern: /^\/admin\/uploads\/?$/, methods: ['POST'], access: 'posts:write' },
  { pattern: /^\/admin\/sends\/?$/, methods: READ, access: 'sends:write' },
  { pattern: /^\/admin\/sends\/new\/?$/, methods: FORM, access: 'sends:write' },
  { pattern: /^\/admin\/sends\/\d{1,18}\/?$/, methods: FORM, access: 'sends:write' },
  { pattern: /^\/admin\/sends\/\d{1,18}\/progress$/, methods: READ, access: 'sends:write' },
  { pattern: /^\/admin\/posts\/\d{1,18}\/conversation$/, methods: ['POST'], access: 'posts:write' },
  { pattern: /^\/admin\/conversation\/?$/, methods: FORM, access: 'comments:moderate' },
  { pattern: /^\/admin\/conversation\/(questions|comments|bans)\/?$/, methods: FORM, access: 'comments:moderate' },
  { pattern: /^\/admin\/conversation\/settings\/?$/, methods: FORM, access: 'settings:manage' },
  { pattern: /^\/admin\/stats(\/(sources|cohorts))?\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/admin\/stats\/sends\/\d{1,18}\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/admin\/stats\/(overview|sources|cohorts)\.csv$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/admin\/stats\/sends\/\d{1,18}\.csv$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/admin\/stats\/posts\/\d{1,18}(\.csv)?\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/api\/v1\/stats\/(overview|sources|cohorts)\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/api\/v1\/stats\/sends\/\d{1,18}\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/api\/v1\/stats\/posts\/\d{1,18}\/?$/, methods: READ, access: 'stats:read' },
  { pattern: /^\/api\/v1\/stats\/members\/\d{1,18}\/?$/, methods: READ, access: 'stats:read' },
  // The API's contract, the same in every install: no site data, so no token needed (tools fetch it as is).
  { pattern: /^\/api\/v1\/openapi\.json$/, methods: READ, access: 'public' },
  { pattern: /^\/api\/v1\/me\/?$/, methods: READ, access: 'dashboard:view' },
  { pattern: /^\/api\/v1\/members\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/api\/v1\/members\/?$/, methods: ['POST'], access: 'members:write' },
  { pattern: /^\/api\/v1\/members\/count\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/api\/v1\/members\/\d{1,18}\/?$/, methods: READ, access: 'members:read' },
  { pattern: /^\/api\/v1\/members\/\d{1,18}\/?$/, methods: ['PATCH', 'DELETE'], access: 'members:write' },
  { pattern: /^\/api\/v1\/imports\/?$/, methods: ['POST'], access: 'members:write' },
  { pattern: /^\/api\/v1\/posts\/?$/, methods: ['POST'], access: 'posts:write' },
  { pattern: /^\/api\/v1\/posts\/\d{1,18}\/?$/, methods: ['GET', 'HEAD', 'PATCH'], access: 'posts:write' },
  { pattern: /^\/api\/v1\/imports\/\d{1,18}\/?$/, methods: READ, access: 'members:write' },
  { pattern: /^\/api\/v1\/sends\/?$/, methods: ['GET', 'HEAD', 'POST'], access: 'sends:write' },
  { pattern: /^\/api\/v1\/sends\/count\/?$/, methods: ['POST'], access: 'sends:write' },
  { pattern: /^\/api\/v1\/sends\/\d{1,18}\/?$/, methods: READ, access: 'sends:write' },
  { pattern: /^\/api\/v1\/sends\/\d{1,18}\/(schedule|cancel|undo|pause|resume|retry)\/?$/, methods: ['POST'], access: 'sends:write' },
  { pattern: /^\/api\/v1\/newsletters\/?$/, methods: READ, access: 'newsletters:read' },
  { pattern: /^\/api\/v1\/tiers\/?$/, methods: READ, access: 'tiers:read' },
  { pattern: /^\/api\/v1\/tiers\/?$/, methods: ['POST'], access: 'settings:manage' },
  { pattern: /^\/api\/v1\/comments\/?$/, methods: READ, access: 'comments:moderate' },
  { pattern: /^\/api\/v1\/comments\/\d{1,18}\/?$/, methods: ['GET', 'HEAD', 'PATCH', 'DELETE'], access: 'comments:moderate' },
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
