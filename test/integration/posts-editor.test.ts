import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../src/lib/errors.ts';
import { createPost, findSlugRedirect, getPostForEdit, slugify, updatePost, type PostInput } from '../../src/domain/content/editor.ts';
import { findPublishedPost, listPublished } from '../../src/domain/content/posts.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const base: PostInput = { title: 'Crème brûlée & cold brew!', markdown: 'Hello', visibility: 'public', status: 'published' };

describe('writing posts', () => {
  it('derives a slug from the title and publishes', async () => {
    expect(slugify('Crème brûlée & cold brew!')).toBe('creme-brulee-cold-brew');
    expect(slugify('!!!')).toBe('post');
    const p = await createPost(t.db, base, null);
    expect(p).toMatchObject({ slug: 'creme-brulee-cold-brew', revision: 1 });
    expect((await findPublishedPost(t.db, 'creme-brulee-cold-brew'))?.title).toBe('Crème brûlée & cold brew!');
  });

  it('refuses a duplicate slug, a bad slug, an empty title and a huge body with clear errors', async () => {
    await expect(createPost(t.db, base, null)).rejects.toThrow(ConflictError);
    await expect(createPost(t.db, { ...base, slug: 'Bad Slug!' }, null)).rejects.toThrow(/slug may use/);
    await expect(createPost(t.db, { ...base, title: '  ' }, null)).rejects.toThrow(ValidationError);
    await expect(createPost(t.db, { ...base, slug: 'huge', markdown: 'x'.repeat(500_001) }, null)).rejects.toThrow(/longer than/);
  });

  it('detects a lost update: a save from an older revision is refused and nothing is overwritten', async () => {
    const p = await createPost(t.db, { ...base, slug: 'shared-draft', status: 'draft' }, null);
    const first = await updatePost(t.db, p.id, { ...base, slug: 'shared-draft', markdown: 'Alice’s version', status: 'draft' }, 1);
    expect(first.revision).toBe(2);
    await expect(updatePost(t.db, p.id, { ...base, slug: 'shared-draft', markdown: 'Bob’s version', status: 'draft' }, 1)).rejects.toThrow(
      ConflictError,
    );
    expect((await getPostForEdit(t.db, p.id)).markdown).toBe('Alice’s version');
    await expect(updatePost(t.db, '999999', base, 1)).rejects.toThrow(NotFoundError);
  });

  it('keeps the old slug as a redirect after a rename, and frees nobody else’s slug', async () => {
    const p = await createPost(t.db, { ...base, slug: 'old-name' }, null);
    await updatePost(t.db, p.id, { ...base, slug: 'new-name' }, 1);
    expect(await findSlugRedirect(t.db, 'old-name')).toBe('new-name');
    await expect(createPost(t.db, { ...base, slug: 'old-name' }, null)).rejects.toThrow(ConflictError);
    // Renaming back reclaims the old address.
    await updatePost(t.db, p.id, { ...base, slug: 'old-name' }, 2);
    expect((await findPublishedPost(t.db, 'old-name'))?.id).toBe(p.id);
    expect(await findSlugRedirect(t.db, 'new-name')).toBe('old-name');
  });

  it('never shows an email-only post or a draft on the web', async () => {
    await createPost(t.db, { ...base, slug: 'letter-only', emailOnly: true }, null);
    expect(await findPublishedPost(t.db, 'letter-only')).toBeUndefined();
    expect(await findPublishedPost(t.db, 'shared-draft')).toBeUndefined();
    const { posts } = await listPublished(t.db, { limit: 100 });
    expect(posts.map((p) => p.slug)).not.toContain('letter-only');
    expect(posts.map((p) => p.slug)).not.toContain('shared-draft');
  });
});

describe('scheduling', () => {
  it('keeps a post scheduled for later off the web until its time, then shows it', async () => {
    const later = new Date(Date.now() + 3_600_000);
    const p = await createPost(t.db, { ...base, slug: 'tomorrow', publishAt: later }, null);
    const row = await getPostForEdit(t.db, p.id);
    expect(row.status).toBe('scheduled');
    expect(row.published_at?.getTime()).toBe(later.getTime());
    expect(await findPublishedPost(t.db, 'tomorrow')).toBeUndefined();
    expect((await listPublished(t.db, { limit: 100 })).posts.map((x) => x.slug)).not.toContain('tomorrow');
    await t.db
      .updateTable('posts')
      .set({ published_at: new Date(Date.now() - 1000) })
      .where('id', '=', p.id)
      .execute();
    expect((await findPublishedPost(t.db, 'tomorrow'))?.id).toBe(p.id);
    await expect(createPost(t.db, { ...base, slug: 'bad-date', publishAt: new Date('nope') }, null)).rejects.toThrow(ValidationError);
  });
});

describe('posts as email', () => {
  it('renders a paid post in two variants: the preview variant holds none of the gated text', async () => {
    const { renderPostVariants, sendTestEmail } = await import('../../src/domain/content/email.ts');
    const { personalize } = await import('../../emails/post.ts');
    const p = await createPost(
      t.db,
      { ...base, slug: 'paid-letter', visibility: 'paid', markdown: 'Open part.\n\n<!--more-->\n\nThe secret ratio is 1:15.' },
      null,
    );
    const variants = await renderPostVariants(t.db, 'https://news.example.com', p.id);
    const values = { name: 'Ana', unsubscribe_url: 'u', preferences_url: 'p' };
    const full = personalize(variants.full, values);
    const preview = personalize(variants.preview!, values);
    expect(full.html).toContain('The secret ratio is 1:15.');
    expect(full.text).toContain('The secret ratio is 1:15.');
    expect(preview.html).toContain('Open part.');
    expect(preview.html).not.toContain('secret ratio');
    expect(preview.text).not.toContain('secret ratio');
    expect(preview.html).toContain('Read the whole post');

    await sendTestEmail(t.db, { siteUrl: 'https://news.example.com' }, p.id, 'Tester@Example.com', 'preview');
    await expect(sendTestEmail(t.db, { siteUrl: 'https://news.example.com' }, p.id, 'not an address', 'full')).rejects.toThrow(
      ValidationError,
    );
    const { sql } = await import('kysely');
    const jobs = await sql<{
      payload: { message: { to: string[]; subject: string; text: string } };
    }>`select payload from graphile_worker._private_jobs order by id desc limit 1`.execute(t.db);
    const payload = jobs.rows[0]!.payload;
    expect(payload.message.to).toEqual(['tester@example.com']);
    expect(payload.message.subject).toBe('[Test] Crème brûlée & cold brew!');
    expect(payload.message.text).not.toContain('secret ratio');
  });

  it('has no preview variant for a public or members post (members read it all)', async () => {
    const { renderPostVariants } = await import('../../src/domain/content/email.ts');
    const p = await createPost(t.db, { ...base, slug: 'members-letter', visibility: 'members', markdown: 'All of it' }, null);
    expect((await renderPostVariants(t.db, 'https://news.example.com', p.id)).preview).toBeNull();
  });
});

describe('every surface’s decision, for every kind of reader', () => {
  it('gives anonymous, free, paid, other-tier and staff readers exactly what they are entitled to', async () => {
    const { postForViewer, findPublishedPost } = await import('../../src/domain/content/posts.ts');
    const { renderPostVariants, variantFor } = await import('../../src/domain/content/email.ts');
    const { personalize } = await import('../../emails/post.ts');
    const tiers = await t.db.selectFrom('tiers').select(['id', 'slug']).execute();
    const free = tiers.find((x) => x.slug === 'free')!;
    const gold = await t.db
      .insertInto('tiers')
      .values({ slug: 'gold', name: 'Gold', paid: true, monthly_amount: 900, currency: 'usd' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const silver = await t.db
      .insertInto('tiers')
      .values({ slug: 'silver', name: 'Silver', paid: true, monthly_amount: 500, currency: 'usd' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const readers = {
      anonymous: { kind: 'anonymous' as const },
      free: { kind: 'member' as const, status: 'active', paid: false, tierId: free.id },
      paid: { kind: 'member' as const, status: 'active', paid: true, tierId: gold.id },
      otherTier: { kind: 'member' as const, status: 'active', paid: true, tierId: silver.id },
      staff: { kind: 'staff' as const },
    };
    const cases: Array<[string, PostInput, Record<keyof typeof readers, boolean>]> = [
      [
        'v-public',
        { ...base, slug: 'v-public', visibility: 'public' },
        { anonymous: true, free: true, paid: true, otherTier: true, staff: true },
      ],
      [
        'v-members',
        { ...base, slug: 'v-members', visibility: 'members' },
        { anonymous: false, free: true, paid: true, otherTier: true, staff: true },
      ],
      [
        'v-paid',
        { ...base, slug: 'v-paid', visibility: 'paid' },
        { anonymous: false, free: false, paid: true, otherTier: true, staff: true },
      ],
      [
        'v-gold',
        { ...base, slug: 'v-gold', visibility: 'tiers', tiers: ['gold'] },
        { anonymous: false, free: false, paid: true, otherTier: false, staff: true },
      ],
    ];
    for (const [slug, input, entitled] of cases) {
      const created = await createPost(t.db, { ...input, markdown: `Above the cut.\n\n<!--more-->\n\nSecret of ${slug}.` }, null);
      const post = (await findPublishedPost(t.db, slug))!;
      const variants = await renderPostVariants(t.db, 'https://news.example.com', created.id);
      for (const [who, viewer] of Object.entries(readers) as Array<[keyof typeof readers, (typeof readers)[keyof typeof readers]]>) {
        const view = postForViewer(post, viewer);
        const secret = `Secret of ${slug}.`;
        // The page body, and the public description used by OpenGraph, Twitter cards and feeds.
        expect(view.html.includes(secret), `${who} on ${slug} (page)`).toBe(entitled[who]);
        expect(view.description).not.toContain(secret);
        expect(view.gated).toBe(!entitled[who]);
        // The email a member of that kind would be sent.
        if (viewer.kind === 'member') {
          const variant = variantFor({ visibility: post.visibility, tierIds: post.tier_ids }, viewer);
          const compiled = variant === 'full' ? variants.full : variants.preview!;
          const email = personalize(compiled, { name: 'x', unsubscribe_url: 'u', preferences_url: 'p' });
          expect(email.html.includes(secret), `${who} on ${slug} (email)`).toBe(entitled[who]);
          expect(email.text.includes(secret), `${who} on ${slug} (email text)`).toBe(entitled[who]);
        }
      }
    }
  });
});
