import { runOnce } from 'graphile-worker';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sendTestEmail } from '../../src/domain/content/email.ts';
import { sendImportConfirmations } from '../../src/domain/imports/confirmations.ts';
import { createImport, runImport, startImport } from '../../src/domain/imports/pipeline.ts';
import { getPreferences, updatePreferences } from '../../src/domain/members/preferences.ts';
import { confirmSubscription, subscribe } from '../../src/domain/members/subscribe.ts';
import { requestEmailChange } from '../../src/domain/membership/account.ts';
import {
  archiveNewsletter,
  createNewsletter,
  listNewsletters,
  moveNewsletter,
  unarchiveNewsletter,
  updateNewsletter,
} from '../../src/domain/newsletters/newsletters.ts';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../src/lib/errors.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createResendMailer } from '../../src/lib/mailer/resend.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { createTaskList } from '../../src/worker.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost } from '../helpers/sending.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/** Newsletters managed on a real database from empty, and the Reply-To of emails as Resend receives them. */
const ctx = { secret: TEST_SECRET, siteUrl: 'https://news.example.com', mailFrom: 'letters@news.example.com' };
let t: TestDatabase;
let resend: ResendTestServer;
beforeAll(async () => {
  resend = await startResendTestServer();
});
afterAll(async () => {
  await resend?.close();
});
beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(async () => {
  await t.drop();
});

async function* csv(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

const slugs = async (archived = false) => (await listNewsletters(t.db, { archived })).map((n) => `${n.slug}${n.is_default ? '*' : ''}`);

describe('managing newsletters', () => {
  it('makes the first the default, keeps one default at a time, and refuses a duplicate slug', async () => {
    await createNewsletter(t.db, { slug: 'weekly', name: 'Weekly' });
    await createNewsletter(t.db, { slug: 'dispatch', name: 'Dispatch' });
    expect(await slugs()).toEqual(['weekly*', 'dispatch']);
    await createNewsletter(t.db, { slug: 'daily', name: 'Daily', default: true });
    expect(await slugs()).toEqual(['weekly', 'dispatch', 'daily*']);
    await updateNewsletter(t.db, 'weekly', { default: true });
    expect(await slugs()).toEqual(['weekly*', 'dispatch', 'daily']);
    await expect(createNewsletter(t.db, { slug: 'weekly', name: 'Again' })).rejects.toThrow(ConflictError);
    await expect(updateNewsletter(t.db, 'dispatch', { slug: 'daily' })).rejects.toThrow(ConflictError);
    // The database holds the rule too: a second default is refused whoever writes it.
    await expect(sql`update newsletters set is_default = true where slug = 'dispatch'`.execute(t.db)).rejects.toThrow(
      /newsletters_one_default/,
    );
  });

  it('checks names, slugs and addresses', async () => {
    await expect(createNewsletter(t.db, { slug: 'Weekly Letter', name: 'x' })).rejects.toThrow(ValidationError);
    await expect(createNewsletter(t.db, { slug: 'ok', name: '   ' })).rejects.toThrow(/cannot be empty/);
    await expect(createNewsletter(t.db, { slug: 'ok', name: 'Ok', replyTo: 'nobody' })).rejects.toThrow(/reply-to address is not valid/);
    await expect(createNewsletter(t.db, { slug: 'ok', name: 'Ok', senderEmail: 'a@b' })).rejects.toThrow(/from address is not valid/);
    await expect(updateNewsletter(t.db, 'missing', { name: 'x' })).rejects.toThrow(NotFoundError);
    const made = await createNewsletter(t.db, { slug: 'ok', name: 'Ok', senderName: 'Ada\r\nBcc: evil@example.com' });
    expect(made.sender_name).toBe('Ada  Bcc: evil@example.com');
    const cleared = await updateNewsletter(t.db, 'ok', { senderName: '', replyTo: null, description: 'About it' });
    expect([cleared.sender_name, cleared.reply_to, cleared.description]).toEqual([null, null, 'About it']);
    expect(await slugs()).toEqual(['ok*']);
  });

  it('reorders, renames and archives', async () => {
    for (const s of ['a', 'b', 'c']) await createNewsletter(t.db, { slug: s, name: s.toUpperCase() });
    await moveNewsletter(t.db, 'c', 'up');
    expect(await slugs()).toEqual(['a*', 'c', 'b']);
    await moveNewsletter(t.db, 'a', 'up'); // already first: nothing moves
    await moveNewsletter(t.db, 'a', 'down');
    expect(await slugs()).toEqual(['c', 'a*', 'b']);
    await updateNewsletter(t.db, 'b', { slug: 'bee', name: 'Bee' });
    const archived = await archiveNewsletter(t.db, 'a');
    expect([archived.archived_at !== null, archived.is_default]).toEqual([true, false]);
    expect(await slugs()).toEqual(['c', 'bee']);
    expect(await slugs(true)).toEqual(['c', 'a', 'bee']);
    await expect(updateNewsletter(t.db, 'a', { default: true })).rejects.toThrow(/archived newsletter cannot be the default/);
    await unarchiveNewsletter(t.db, 'a');
    expect(await slugs()).toEqual(['c', 'a', 'bee']);
  });
});

describe('an archived newsletter and its members', () => {
  it('keeps them (they can stay or leave) and takes nobody new, even from an old confirmation link', async () => {
    const open = await createNewsletter(t.db, { slug: 'open', name: 'Open' });
    const old = await createNewsletter(t.db, { slug: 'old', name: 'Old' });
    const links = async () =>
      (
        await sql<{ text: string }>`
          select j.payload->'message'->>'text' as text from graphile_worker._private_jobs j
          join graphile_worker._private_tasks k on k.id = j.task_id
          where k.identifier = 'send_email' and j.payload->'message'->>'subject' like 'Confirm%' order by j.id`.execute(t.db)
      ).rows.map((r) => decodeURIComponent(/\/confirm\?token=(\S+)/.exec(r.text)![1]!));
    // "stay" joins both before the archive; "late" joins "open", then asks for "old" too.
    await subscribe(t.db, ctx, { email: 'stay@example.com', newsletters: ['open', 'old'], clientIp: '192.0.2.1' });
    await subscribe(t.db, ctx, { email: 'late@example.com', newsletters: ['open'], clientIp: '192.0.2.2' });
    for (const token of await links()) await confirmSubscription(t.db, ctx, token);
    await subscribe(t.db, ctx, { email: 'late@example.com', newsletters: ['old'], clientIp: '192.0.2.2' });
    const [stay, late] = await t.db.selectFrom('members').select(['id', 'status']).orderBy('id').execute();
    expect([stay!.status, late!.status]).toEqual(['active', 'active']);
    // The archive comes between the email asking to add "old" and the click.
    await archiveNewsletter(t.db, 'old');
    expect((await confirmSubscription(t.db, ctx, (await links()).at(-1)!)).result).toBe('updated');

    const memberships = await t.db
      .selectFrom('member_newsletters')
      .select(['member_id', 'newsletter_id'])
      .orderBy('newsletter_id')
      .execute();
    expect(memberships.filter((m) => m.member_id === stay!.id).map((m) => m.newsletter_id)).toEqual([open.id, old.id]);
    expect(memberships.filter((m) => m.member_id === late!.id).map((m) => m.newsletter_id)).toEqual([open.id]);

    // The preference page shows the archived newsletter to its member only; only they may keep it.
    expect((await getPreferences(t.db, stay!.id)).newsletters.map((n) => n.slug)).toEqual(['open', 'old']);
    expect((await getPreferences(t.db, late!.id)).newsletters.map((n) => n.slug)).toEqual(['open']);
    await updatePreferences(t.db, stay!.id, ['open', 'old']);
    await expect(updatePreferences(t.db, late!.id, ['open', 'old'])).rejects.toThrow(ConflictError);

    await expect(subscribe(t.db, ctx, { email: 'new@example.com', newsletters: ['old'], clientIp: '192.0.2.3' })).rejects.toThrow(
      /closed to new subscribers/,
    );
    // No choice: the default ("open", the first made).
    await subscribe(t.db, ctx, { email: 'plain@example.com', clientIp: '192.0.2.4' });
    await archiveNewsletter(t.db, 'open');
    await expect(subscribe(t.db, ctx, { email: 'nobody@example.com', clientIp: '192.0.2.5' })).rejects.toMatchObject({ code: 'not_open' });
  });

  it('is refused as the newsletter of an import', async () => {
    await createNewsletter(t.db, { slug: 'open', name: 'Open' });
    await createNewsletter(t.db, { slug: 'old', name: 'Old' });
    await archiveNewsletter(t.db, 'old');
    const created = await createImport(t.db, { filename: 'm.csv', body: csv('email\na@example.com\n') });
    await expect(startImport(t.db, created.id, { newsletterSlug: 'old' })).rejects.toThrow(/"Old" is archived/);
  });
});

describe('Reply-To as Resend receives it', () => {
  function runtime(): Runtime {
    const config = { ...loadConfig({}), appSecret: TEST_SECRET };
    const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: 'fallback@example.com' });
    return { config, keys: siteKeys(config), db: t.db, mailer, stripe: undefined };
  }
  const deliver = () => runOnce({ pgPool: t.pool, taskList: createTaskList(runtime(), t.pool) });
  const received = (to: string) => resend.emails.filter((e) => e.to.includes(to));

  it('on import confirmations, test-post emails and email-change links', async () => {
    await saveSiteSettings(t.db, { title: 'Field Notes', reply_to: 'hello@example.com' });
    await createNewsletter(t.db, { slug: 'weekly', name: 'Weekly', senderName: 'The Weekly', replyTo: 'weekly@example.com' });

    const created = await createImport(t.db, { filename: 'm.csv', body: csv('email\nimported-rt@example.com\n') });
    await startImport(t.db, created.id, { newsletterSlug: 'weekly', sendConfirmation: true });
    await runImport(t.db, t.pool, created.id);
    await sendImportConfirmations(t.db, runtime().mailer, ctx, created.id);
    expect(received('imported-rt@example.com').map((e) => [e.from, e.replyTo])).toEqual([
      ['"The Weekly" <letters@news.example.com>', 'weekly@example.com'],
    ]);

    await sendTestEmail(t.db, ctx, await makePost(t.db), 'tester-rt@example.com', 'full');
    const member = await t.db
      .insertInto('members')
      .values({
        email: 'mover-rt@example.com',
        status: 'active',
        tier_id: sql<string>`(select id from tiers where slug = 'free')` as unknown as string,
        source_platform: 'direct',
        referral_code: 'moverrtcode',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await requestEmailChange(t.db, ctx, member.id, 'moved-rt@example.com');
    await deliver();
    expect(received('tester-rt@example.com').map((e) => [e.from, e.replyTo])).toEqual([
      ['"The Weekly" <letters@news.example.com>', 'weekly@example.com'],
    ]);
    // About the member, not a newsletter: the site's name and reply-to.
    expect(received('moved-rt@example.com').map((e) => [e.from, e.replyTo])).toEqual([
      ['"Field Notes" <letters@news.example.com>', 'hello@example.com'],
    ]);
  });
});

describe('slugs that name nothing', () => {
  it('are a clean 404 or 400, even with a NUL byte', async () => {
    await createNewsletter(t.db, { slug: 'open', name: 'Open' });
    for (const slug of ['nul\u0000', 'UPPER', '']) {
      await expect(updateNewsletter(t.db, slug, { name: 'x' })).rejects.toThrow(NotFoundError);
      await expect(archiveNewsletter(t.db, slug)).rejects.toThrow(NotFoundError);
    }
    await expect(subscribe(t.db, ctx, { email: 'a@example.com', newsletters: ['nul\u0000'], clientIp: '192.0.2.9' })).rejects.toThrow(
      ValidationError,
    );
  });
});
