import type { StaffRole } from '../../../db/types.ts';

/**
 * Which staff role may do what: the one table every staff page and every /api/v1 route is
 * checked against (src/web/guard.ts maps each route to one permission). Roles are not a
 * ladder in code: each permission lists its roles, so a new permission starts closed.
 */
export const ROLES: readonly StaffRole[] = ['owner', 'admin', 'editor', 'moderator'];

export const PERMISSIONS = {
  'dashboard:view': ['owner', 'admin', 'editor', 'moderator'],
  'outbox:read': ['owner', 'admin', 'editor'],
  'staff:manage': ['owner', 'admin'],
  'tokens:manage-own': ['owner', 'admin', 'editor', 'moderator'],
  'newsletters:read': ['owner', 'admin', 'editor', 'moderator'],
  /** Create, change, reorder, archive newsletters and their senders. */
  'newsletters:manage': ['owner', 'admin'],
  'tiers:read': ['owner', 'admin', 'editor', 'moderator'],
  'members:read': ['owner', 'admin', 'editor'],
  'members:write': ['owner', 'admin'],
  'posts:write': ['owner', 'admin', 'editor'],
  'sends:write': ['owner', 'admin', 'editor'],
  'stats:read': ['owner', 'admin', 'editor'],
  'comments:moderate': ['owner', 'admin', 'moderator'],
  'settings:manage': ['owner', 'admin'],
  /** Rewrite the automatic emails (welcome, confirmation, …): subject, preheader, body, per language. */
  'emails:write': ['owner', 'admin', 'editor'],
  /** Download the whole site (domain/backup/): every member, post and staff password hash. */
  'site:export': ['owner'],
} as const satisfies Record<string, readonly StaffRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: StaffRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly StaffRole[]).includes(role);
}

/** Roles a staff user may hand out: an owner any, an admin any but owner, others none. */
export function assignableRoles(role: StaffRole): StaffRole[] {
  if (role === 'owner') return [...ROLES];
  if (role === 'admin') return ['admin', 'editor', 'moderator'];
  return [];
}

export function isRole(value: string): value is StaffRole {
  return (ROLES as readonly string[]).includes(value);
}
