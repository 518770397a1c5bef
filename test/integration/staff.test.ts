import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, RateLimitedError, UnauthorizedError, ValidationError } from '../../src/lib/errors.ts';
import { createApiToken, listApiTokens, revokeApiToken, staffFromApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession, revokeAllStaffSessions, revokeStaffSession, staffFromSession } from '../../src/domain/staff/sessions.ts';
import { SIGNIN_LIMITS, signInStaff } from '../../src/domain/staff/signin.ts';
import { createStaffUser, findStaffByEmail, hasAnyStaff, setupOwner } from '../../src/domain/staff/users.ts';
import { hashToken } from '../../src/lib/tokens.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

describe('owner setup', () => {
  it('creates exactly one owner when two setups race', async () => {
    expect(await hasAnyStaff(t.db)).toBe(false);
    const results = await Promise.allSettled([
      setupOwner(t.db, { email: 'first@example.com', password: 'correct horse 1' }),
      setupOwner(t.db, { email: 'second@example.com', password: 'correct horse 2' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    const owners = await t.db.selectFrom('staff_users').select(['role']).execute();
    expect(owners).toEqual([{ role: 'owner' }]);
  });

  it('stores an argon2id hash, never the password', async () => {
    const row = await t.db.selectFrom('staff_users').selectAll().executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain('correct horse');
  });

  it('refuses setup once an owner exists', async () => {
    await expect(setupOwner(t.db, { email: 'late@example.com', password: 'long enough pw' })).rejects.toThrow(ConflictError);
  });
});

describe('staff users', () => {
  it('validates input with clear messages', async () => {
    await expect(createStaffUser(t.db, { email: 'nope', password: 'long enough pw', role: 'editor' })).rejects.toThrow(ValidationError);
    await expect(createStaffUser(t.db, { email: 'a@example.com', password: 'short', role: 'editor' })).rejects.toThrow(/at least 10/);
    await expect(createStaffUser(t.db, { email: 'a@example.com', password: 'long enough pw', role: 'boss' as never })).rejects.toThrow(
      /role/,
    );
  });

  it('treats addresses case-insensitively', async () => {
    await createStaffUser(t.db, { email: 'Editor@Example.com', password: 'long enough pw', role: 'editor' });
    await expect(createStaffUser(t.db, { email: 'editor@example.COM', password: 'long enough pw', role: 'admin' })).rejects.toThrow(
      ConflictError,
    );
    expect((await findStaffByEmail(t.db, 'EDITOR@example.com'))?.role).toBe('editor');
  });
});

describe('sign-in and sessions', () => {
  it('opens a session for the right password only, with the same error for unknown addresses', async () => {
    const ok = await signInStaff(t.db, TEST_SECRET, { email: 'editor@example.com', password: 'long enough pw', clientIp: '10.0.0.1' });
    expect(ok.user.role).toBe('editor');
    expect(await staffFromSession(t.db, ok.token)).toMatchObject({
      staff: { email: 'editor@example.com', role: 'editor' },
      renewedUntil: null,
    });
    const stored = await t.db
      .selectFrom('staff_sessions')
      .select('token_hash')
      .where('token_hash', '=', hashToken(ok.token))
      .executeTakeFirst();
    expect(stored).toBeDefined();
    expect(JSON.stringify(await t.db.selectFrom('staff_sessions').selectAll().execute())).not.toContain(ok.token);

    const wrong = signInStaff(t.db, TEST_SECRET, { email: 'editor@example.com', password: 'wrong password', clientIp: '10.0.0.1' });
    await expect(wrong).rejects.toThrow(UnauthorizedError);
    const unknown = signInStaff(t.db, TEST_SECRET, { email: 'ghost@example.com', password: 'wrong password', clientIp: '10.0.0.1' });
    await expect(unknown).rejects.toThrow('That email and password do not match.');
  });

  it('ends expired sessions and sessions of disabled staff', async () => {
    const user = await findStaffByEmail(t.db, 'editor@example.com');
    const s = await createStaffSession(t.db, user!.id);
    await t.db
      .updateTable('staff_sessions')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` as unknown as Date })
      .where('token_hash', '=', hashToken(s.token))
      .execute();
    expect(await staffFromSession(t.db, s.token)).toBeUndefined();

    const s2 = await createStaffSession(t.db, user!.id);
    await t.db.updateTable('staff_users').set({ disabled_at: new Date() }).where('id', '=', user!.id).execute();
    expect(await staffFromSession(t.db, s2.token)).toBeUndefined();
    await t.db.updateTable('staff_users').set({ disabled_at: null }).where('id', '=', user!.id).execute();
    expect(await staffFromSession(t.db, s2.token)).toBeDefined();
  });

  it('signs out one session, or everywhere', async () => {
    const user = await findStaffByEmail(t.db, 'editor@example.com');
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createStaffSession(t.db, user!.id)));
    await revokeStaffSession(t.db, a!.token);
    expect(await staffFromSession(t.db, a!.token)).toBeUndefined();
    expect(await staffFromSession(t.db, b!.token)).toBeDefined();
    expect(await revokeAllStaffSessions(t.db, user!.id)).toBeGreaterThanOrEqual(2);
    expect(await staffFromSession(t.db, b!.token)).toBeUndefined();
    expect(await staffFromSession(t.db, c!.token)).toBeUndefined();
  });

  it('refuses a tampered or malformed session token', async () => {
    const user = await findStaffByEmail(t.db, 'editor@example.com');
    const s = await createStaffSession(t.db, user!.id);
    const tampered = (s.token[0] === 'a' ? 'b' : 'a') + s.token.slice(1);
    expect(await staffFromSession(t.db, tampered)).toBeUndefined();
    expect(await staffFromSession(t.db, '')).toBeUndefined();
    expect(await staffFromSession(t.db, 'x'.repeat(5000))).toBeUndefined();
  });

  it('stops a guesser after repeated failures from one address, without locking the account out elsewhere', async () => {
    await createStaffUser(t.db, { email: 'target@example.com', password: 'long enough pw', role: 'moderator' });
    for (let i = 0; i < SIGNIN_LIMITS.failuresPerAccountAndIp.limit; i++) {
      await expect(
        signInStaff(t.db, TEST_SECRET, { email: 'target@example.com', password: 'guess ' + i, clientIp: '10.1.0.1' }),
      ).rejects.toThrow(UnauthorizedError);
    }
    // From the guesser's address even the right password is refused until the window passes…
    const blocked = signInStaff(t.db, TEST_SECRET, { email: 'target@example.com', password: 'long enough pw', clientIp: '10.1.0.1' });
    await expect(blocked).rejects.toThrow(RateLimitedError);
    // …while the owner of the account, elsewhere, still gets in.
    const ok = await signInStaff(t.db, TEST_SECRET, { email: 'target@example.com', password: 'long enough pw', clientIp: '10.2.0.2' });
    expect(ok.user.email).toBe('target@example.com');
  });

  it('does not count successful sign-ins as failures', async () => {
    for (let i = 0; i < SIGNIN_LIMITS.failuresPerAccountAndIp.limit + 2; i++) {
      await signInStaff(t.db, TEST_SECRET, { email: 'target@example.com', password: 'long enough pw', clientIp: '10.3.0.3' });
    }
  });

  it('rate-limits attempts per client address, across accounts', async () => {
    for (let i = 0; i < SIGNIN_LIMITS.perIp.limit; i++) {
      await expect(
        signInStaff(t.db, TEST_SECRET, { email: `nobody${i}@example.com`, password: 'x'.repeat(12), clientIp: '10.9.9.9' }),
      ).rejects.toThrow(UnauthorizedError);
    }
    await expect(
      signInStaff(t.db, TEST_SECRET, { email: 'editor@example.com', password: 'long enough pw', clientIp: '10.9.9.9' }),
    ).rejects.toThrow(RateLimitedError);
    // The limit keys are HMACs: no address or email is stored.
    const keys = await t.db.selectFrom('rate_limits').select('key').execute();
    expect(keys.length).toBeGreaterThan(0);
    for (const { key } of keys) expect(key).not.toMatch(/10\.9\.9\.9|@/);
  });

  it('refuses an absurdly long password without hashing it', async () => {
    await expect(
      signInStaff(t.db, TEST_SECRET, { email: 'editor@example.com', password: 'x'.repeat(100_000), clientIp: '10.4.0.4' }),
    ).rejects.toThrow(UnauthorizedError);
  });
});

describe('API tokens', () => {
  it('authenticates with the token, shown once and stored hashed, until revoked', async () => {
    const user = await findStaffByEmail(t.db, 'editor@example.com');
    const { token, id } = await createApiToken(t.db, user!.id, 'zapier');
    expect(token).toMatch(/^hearth_/);
    expect(await staffFromApiToken(t.db, token)).toMatchObject({ email: 'editor@example.com', role: 'editor' });
    const listed = await listApiTokens(t.db, user!.id);
    expect(listed.find((r) => r.id === id)?.last_used_at).toBeInstanceOf(Date);
    expect(JSON.stringify(await t.db.selectFrom('api_tokens').selectAll().execute())).not.toContain(token);

    expect(await staffFromApiToken(t.db, token + 'x')).toBeUndefined();
    expect(await staffFromApiToken(t.db, 'Bearer ' + token)).toBeUndefined();
    await revokeApiToken(t.db, user!.id, id);
    expect(await staffFromApiToken(t.db, token)).toBeUndefined();
    await expect(revokeApiToken(t.db, user!.id, id)).rejects.toThrow(NotFoundError);
  });

  it('cannot be revoked by another staff user', async () => {
    const editor = await findStaffByEmail(t.db, 'editor@example.com');
    const target = await findStaffByEmail(t.db, 'target@example.com');
    const { token, id } = await createApiToken(t.db, editor!.id, 'mine');
    await expect(revokeApiToken(t.db, target!.id, id)).rejects.toThrow(NotFoundError);
    expect(await staffFromApiToken(t.db, token)).toBeDefined();
  });

  it('follows its owner: a disabled staff user’s tokens stop working', async () => {
    const target = await findStaffByEmail(t.db, 'target@example.com');
    const { token } = await createApiToken(t.db, target!.id, 'ci');
    await t.db.updateTable('staff_users').set({ disabled_at: new Date() }).where('id', '=', target!.id).execute();
    expect(await staffFromApiToken(t.db, token)).toBeUndefined();
  });
});

describe('sliding sessions', () => {
  it('extends a session used after an hour and says so, so the cookie can be renewed', async () => {
    const user = await findStaffByEmail(t.db, 'editor@example.com');
    const s = await createStaffSession(t.db, user!.id);
    await t.db
      .updateTable('staff_sessions')
      .set({
        last_seen_at: sql<Date>`now() - interval '2 hours'` as unknown as Date,
        expires_at: sql<Date>`now() + interval '1 day'` as unknown as Date,
      })
      .where('token_hash', '=', hashToken(s.token))
      .execute();
    const used = await staffFromSession(t.db, s.token);
    expect(used?.renewedUntil).toBeInstanceOf(Date);
    expect(used!.renewedUntil!.getTime()).toBeGreaterThan(Date.now() + 13 * 86_400_000);
    expect((await staffFromSession(t.db, s.token))?.renewedUntil).toBeNull();
  });
});
