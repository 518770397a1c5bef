import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { createPost } from '../../src/domain/content/editor.ts';
import type { Visibility } from '../../src/domain/content/access.ts';

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
