import { sql, type Kysely } from 'kysely';
import type { Database, StaffRole, StaffUser } from '../../../db/types.ts';
import { ConflictError, ValidationError } from '../../lib/errors.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';
import { isRole } from './permissions.ts';
import { emailProblem, normaliseEmail } from '../members/email.ts';

export interface NewStaffUser {
  email: string;
  password: string;
  role: StaffRole;
  name?: string | undefined;
}

export { normaliseEmail };

function validate(input: NewStaffUser): void {
  if (emailProblem(input.email)) throw new ValidationError('Enter a valid email address.', 'invalid_email');
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters.`, 'weak_password');
  }
  if (input.password.length > MAX_PASSWORD_LENGTH) throw new ValidationError('The password is too long.', 'invalid_password');
  if (!isRole(input.role)) throw new ValidationError('The role must be owner, admin, editor or moderator.', 'invalid_role');
  if ((input.name ?? '').length > 200) throw new ValidationError('The name is too long.', 'invalid_name');
}

export async function findStaffByEmail(db: Kysely<Database>, email: string): Promise<StaffUser | undefined> {
  return db
    .selectFrom('staff_users')
    .selectAll()
    .where(sql`lower(email)`, '=', normaliseEmail(email))
    .executeTakeFirst();
}

export async function createStaffUser(db: Kysely<Database>, input: NewStaffUser): Promise<StaffUser> {
  validate(input);
  const passwordHash = await hashPassword(input.password);
  const row = await db
    .insertInto('staff_users')
    .values({ email: normaliseEmail(input.email), name: input.name?.trim() ?? '', password_hash: passwordHash, role: input.role })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new ConflictError('A staff user with that email already exists.', 'email_taken');
  return row;
}

export async function hasAnyStaff(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('staff_users').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Creates the owner on an empty install. The advisory lock serialises concurrent first
 * visits, so exactly one setup wins and the others get a ConflictError.
 */
export async function setupOwner(db: Kysely<Database>, input: Omit<NewStaffUser, 'role'>): Promise<StaffUser> {
  validate({ ...input, role: 'owner' });
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('hearth.owner-setup'))`.execute(trx);
    if (await hasAnyStaff(trx)) throw new ConflictError('This site already has an owner. Sign in instead.', 'already_set_up');
    return createStaffUser(trx, { ...input, role: 'owner' });
  });
}

export async function listStaff(db: Kysely<Database>) {
  return db.selectFrom('staff_users').select(['id', 'email', 'name', 'role', 'created_at', 'disabled_at']).orderBy('id').execute();
}
