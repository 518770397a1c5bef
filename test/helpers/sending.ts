import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { createPost } from '../../src/domain/content/editor.ts';
import type { Visibility } from '../../src/domain/content/access.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { startServer, type RunningServer } from './server.ts';

/**
 * An audience for sending tests, made with set-based SQL (thousands of members in a moment):
 * newsletter `weekly`, a free and a paid tier, and `n` active members subscribed to weekly,
 * reader1@example.com … reader<n>@example.com, members 1..n in id order.
 */
export async function seedAudience(db: Kysely<Database>, n: number, options: { prefix?: string } = {}): Promise<void> {
  const prefix = options.prefix ?? 'reader';
  await sql`insert into newsletters (slug, name, is_default) values ('weekly', 'Weekly', true), ('extra', 'Extra', false) on conflict do nothing`.execute(
    db,
  );
  await sql`insert into tiers (slug, name, paid, monthly_amount, currency) values ('supporter', 'Supporter', true, 500, 'usd') on conflict do nothing`.execute(
    db,
  );
  await sql`
    insert into members (email, name, status, tier_id, referral_code, confirmed_at, source_platform)
    select ${prefix} || g || '@example.com', 'Reader ' || g, 'active', (select id from tiers where slug = 'free'),
           md5(${prefix} || g)::text, now(), 'instagram'
      from generate_series(1, ${n}) g
  `.execute(db);
  await sql`
    insert into member_newsletters (member_id, newsletter_id)
    select m.id, (select id from newsletters where slug = 'weekly') from members m where m.email like ${`${prefix}%`}
    on conflict do nothing
  `.execute(db);
}

let posts = 0;
export async function makePost(
  db: Kysely<Database>,
  options: { title?: string; visibility?: Visibility; markdown?: string } = {},
): Promise<string> {
  const post = await createPost(
    db,
    {
      title: options.title ?? `A letter from the roastery ${++posts}`,
      markdown: options.markdown ?? 'Hello **friends**.\n\n<!--more-->\n\nThe rest, for members.',
      visibility: options.visibility ?? 'public',
      status: 'published',
    },
    null,
  );
  return post.id;
}

/** A site that sends through the Resend test server (startSendingSite). */
export interface SendingSite {
  t: TestDatabase;
  resend: ResendTestServer;
  server: RunningServer;
  /** The owner's API token ('' when none was asked for). */
  token: string;
  /** Starts the real server again with the same settings (after a test stopped it); `stop` stops this one. */
  restart(): Promise<RunningServer>;
  /** Stops the server and the Resend test server and drops the database. */
  stop(): Promise<void>;
}

export interface SendingSiteOptions {
  /** Readers (seedAudience). */
  members: number;
  /** An owner with an API token of this name. */
  token?: string;
  /** An editor who signs in with a password (editor@example.com, "an editor password"). */
  editor?: boolean;
  /** Requests a second to the provider (SEND_RATE_LIMIT); 100 unless said. */
  rate?: number;
  /** The Resend test server keeps only what the tests read of each email (ResendTestServerOptions). */
  light?: boolean;
}

/**
 * A test database with readers, the staff asked for, the Resend test server, and the real server
 * sending through it. What was started is stopped again if a later step fails.
 */
export async function startSendingSite(options: SendingSiteOptions): Promise<SendingSite> {
  const t = await createTestDatabase();
  let resend: ResendTestServer | undefined;
  try {
    await seedAudience(t.db, options.members);
    let token = '';
    if (options.token !== undefined) {
      const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
      token = (await createApiToken(t.db, owner.id, options.token)).token;
    }
    if (options.editor) await createStaffUser(t.db, { email: 'editor@example.com', password: 'an editor password', role: 'editor' });
    const started = await startResendTestServer(options.light ? { light: true } : {});
    resend = started;
    const env = { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: started.url, SEND_RATE_LIMIT: String(options.rate ?? 100) };
    const start = () => startServer({ databaseUrl: t.url, env });
    const site: SendingSite = {
      t,
      resend: started,
      server: await start(),
      token,
      async restart() {
        site.server = await start();
        return site.server;
      },
      async stop() {
        await site.server.stop();
        await started.close();
        await t.drop();
      },
    };
    return site;
  } catch (err) {
    await resend?.close();
    await t.drop();
    throw err;
  }
}
