import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { hashToken, randomToken } from '../../lib/tokens.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import type { SessionStaffUser } from './sessions.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Staff API tokens: `hearth_<random>`, shown once, stored as SHA-256. A token acts with its
 * owner's role (checked on every call, so demoting or disabling the owner takes effect at once).
 */
const PREFIX = 'hearth_';

export async function createApiToken(db: Kysely<Database>, staffUserId: string, name: string): Promise<{ token: string; id: string }> {
  const label = name.trim();
  if (label.length === 0 || label.length > 100) throw new ValidationError('Give the token a name of 1 to 100 characters.', 'invalid_name');
  const token = PREFIX + randomToken();
  const row = await db
    .insertInto('api_tokens')
    .values({ staff_user_id: staffUserId, name: label, token_hash: hashToken(token), token_prefix: token.slice(0, PREFIX.length + 4) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { token, id: row.id };
}

export async function staffFromApiToken(db: Kysely<Database>, token: string): Promise<SessionStaffUser | undefined> {
  if (!token.startsWith(PREFIX) || token.length > 100) return undefined;
  const row = await db
    .updateTable('api_tokens as t')
    .from('staff_users as u')
    .set({ last_used_at: dbNow() })
    .whereRef('u.id', '=', 't.staff_user_id')
    .where('t.token_hash', '=', hashToken(token))
    .where('t.revoked_at', 'is', null)
    .where('u.disabled_at', 'is', null)
    .returning(['u.id', 'u.email', 'u.name', 'u.role'])
    .executeTakeFirst();
  return row;
}

export async function listApiTokens(db: Kysely<Database>, staffUserId: string) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'token_prefix', 'created_at', 'last_used_at'])
    .where('staff_user_id', '=', staffUserId)
    .where('revoked_at', 'is', null)
    .orderBy('id', 'desc')
    .execute();
}

export async function revokeApiToken(db: Kysely<Database>, staffUserId: string, tokenId: string): Promise<void> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: dbNow() })
    .where('id', '=', tokenId)
    .where('staff_user_id', '=', staffUserId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new NotFoundError('No such token.');
}
