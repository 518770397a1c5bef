import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/types.ts';
import { createMember } from '../../src/domain/members/manage.ts';
import { MEMBER_COOKIE, createMemberSession } from '../../src/domain/membership/sessions.ts';
import { SESSION_COOKIE, createStaffSession } from '../../src/domain/staff/sessions.ts';
import { actorOf, identify, viewerOf, type Presence } from '../../src/web/identity.ts';
import type { CookieJar } from '../../src/web/session-cookie.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Who is here, from a real request's Cookie header against a real database (an empty one: no demo
 * seed), and its two projections. The jar is the slice of Astro's cookies the code uses: it reads
 * the request's header and keeps what would be sent back as Set-Cookie.
 */
const SITE = 'https://news.example';
let t: TestDatabase;
let memberId: string;
let memberToken: string;
let staffId: string;
let staffToken: string;

function jarFor(request: Request): CookieJar & { sent: Map<string, { value: string; expires?: Date | undefined }> } {
  const incoming = new Map(
    (request.headers.get('cookie') ?? '')
      .split(';')
      .map((pair) => pair.trim().split('='))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k, decodeURIComponent(v)]),
  );
  const sent = new Map<string, { value: string; expires?: Date | undefined }>();
  const jar = {
    sent,
    get: (name: string) => (incoming.has(name) ? { value: incoming.get(name)! } : undefined),
    set: (name: string, value: string | Record<string, unknown>, options?: { expires?: Date }) => {
      sent.set(name, { value: String(value), expires: options?.expires });
    },
    delete: (name: string) => {
      sent.set(name, { value: '' });
    },
  };
  return jar as unknown as CookieJar & { sent: typeof sent };
}

function requestWith(cookies: Record<string, string>): Request {
  const header = Object.entries(cookies)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('; ');
  return new Request(`${SITE}/posts/hello`, { headers: header ? { cookie: header } : {} });
}

async function presenceOf(cookies: Record<string, string>): Promise<Presence> {
  return identify(t.db, jarFor(requestWith(cookies)), SITE);
}

beforeAll(async () => {
  t = await createTestDatabase();
  memberId = await createMember(t.db, { email: 'reader@example.com', name: 'Rea' });
  memberToken = (await createMemberSession(t.db, memberId)).token;
  const staff = await t.db
    .insertInto('staff_users')
    .values({ email: 'mo@example.com', name: 'Mo', password_hash: 'x', role: 'moderator' })
    .returning('id')
    .executeTakeFirstOrThrow();
  staffId = staff.id;
  staffToken = (await createStaffSession(t.db, staffId)).token;
});
afterAll(async () => {
  await t.drop();
});

describe('identify', () => {
  it('a request without a session cookie is anonymous, and costs no query', async () => {
    // A database handle that fails on any use: reaching it would throw.
    const noDb = new Proxy(
      {},
      {
        get: () => {
          throw new Error('queried the database');
        },
      },
    ) as Kysely<Database>;
    const here = await identify(noDb, jarFor(requestWith({ other: 'x' })), SITE);
    expect(here).toEqual({ kind: 'anonymous' });
    expect(viewerOf(here)).toEqual({ kind: 'anonymous' });
    expect(actorOf(here)).toEqual({ kind: 'anonymous' });
  });

  it('a member session is the member, as a viewer (for canRead) and as an actor (for the conversation)', async () => {
    const here = await presenceOf({ [MEMBER_COOKIE]: memberToken });
    expect(here.kind).toBe('member');
    expect(viewerOf(here)).toEqual({ kind: 'member', status: 'active', paid: false, tierId: expect.any(String) });
    expect(actorOf(here)).toEqual({ kind: 'member', id: memberId, paid: false, tierId: expect.any(String), name: 'Rea' });
  });

  it('a staff session is staff, and wins over a member session in the same browser', async () => {
    const here = await presenceOf({ [SESSION_COOKIE]: staffToken, [MEMBER_COOKIE]: memberToken });
    expect(viewerOf(here)).toEqual({ kind: 'staff' });
    expect(actorOf(here)).toEqual({ kind: 'staff', id: staffId, role: 'moderator', name: 'Mo' });
  });

  it('unknown, malformed and disabled sessions fall through to the next one, then to anonymous', async () => {
    expect(await presenceOf({ [SESSION_COOKIE]: 'x'.repeat(43), [MEMBER_COOKIE]: memberToken })).toMatchObject({ kind: 'member' });
    expect(await presenceOf({ [MEMBER_COOKIE]: 'short' })).toEqual({ kind: 'anonymous' });
    const other = await t.db
      .insertInto('staff_users')
      .values({ email: 'gone@example.com', name: 'Gone', password_hash: 'x', role: 'admin', disabled_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const disabledToken = (await createStaffSession(t.db, other.id)).token;
    expect(await presenceOf({ [SESSION_COOKIE]: disabledToken })).toEqual({ kind: 'anonymous' });
  });

  it('sets the cookie again when the lookup extended the session, and only then', async () => {
    const fresh = jarFor(requestWith({ [MEMBER_COOKIE]: memberToken, [SESSION_COOKIE]: staffToken }));
    await identify(t.db, fresh, SITE);
    expect(fresh.sent.size).toBe(0);

    await t.db
      .updateTable('staff_sessions')
      .set({ last_seen_at: sql<Date>`now() - interval '2 hours'` as unknown as Date })
      .execute();
    const stale = jarFor(requestWith({ [SESSION_COOKIE]: staffToken }));
    await identify(t.db, stale, SITE);
    const renewed = stale.sent.get(SESSION_COOKIE);
    expect(renewed?.value).toBe(staffToken);
    expect(renewed!.expires!.getTime()).toBeGreaterThan(Date.now() + 13 * 86_400_000);
  });
});
