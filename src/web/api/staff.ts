import { z } from 'zod';
import type { SessionStaffUser } from '../../domain/staff/sessions.ts';
import { Id } from './schema.ts';

/** GET /api/v1/me: the staff user a token belongs to. */
export const Staff = z
  .strictObject({ id: Id, email: z.string(), name: z.string(), role: z.enum(['owner', 'admin', 'editor', 'moderator']) })
  .meta({ id: 'Staff' });

export type StaffJson = z.infer<typeof Staff>;

export const StaffEnvelope = z.strictObject({ staff: Staff });

export function staffJson(s: SessionStaffUser): StaffJson {
  return { id: s.id, email: s.email, name: s.name, role: s.role };
}
