import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOMATIC_EMAIL_KINDS, KINDS, defaultTemplate, type AutomaticEmailKind } from '../../emails/automatic.ts';
import type { Brand } from '../../emails/html.ts';
import { sendTrialReminder } from '../../src/domain/billing/trials.ts';
import {
  automaticEmail,
  compiledCount,
  getAutomaticEmail,
  listVersions,
  renderSample,
  resetAutomaticEmail,
  saveAutomaticEmail,
} from '../../src/domain/emails/emails.ts';
import { checkTemplate, TemplateError } from '../../src/domain/emails/template.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Automatic emails rewritten by staff, on a real database: an override is per (kind, language)
 * and changes nothing else; a template that does not check is refused with its line and reason
 * and the previous version stays live; reset puts the default back; every default, written as
 * Markdown with variables, checks and renders in every language; an override is compiled once.
 */
let t: TestDatabase;
const brand: Brand = { title: 'Field Notes', accentColor: '#9a3412', siteUrl: 'https://news.example.com' };
const staff = { id: null as unknown as string, email: 'editor@example.com' };

beforeAll(async () => {
  t = await createTestDatabase();
  staff.id = (
    await sql<{
      id: string;
    }>`insert into staff_users (email, password_hash, role) values ('editor@example.com', 'x', 'editor') returning id`.execute(t.db)
  ).rows[0]!.id;
});
afterAll(async () => {
  await t?.drop();
});

const welcomeData = (lang: string) => ({
  lang,
  brand,
  name: 'Camille',
  newsletters: ['La Gazette'],
  preferencesUrl: 'https://news.example.com/unsubscribe?token=abc',
});

describe('an override', () => {
  it('changes the welcome email in its language only, and no other kind', async () => {
    const beforeFr = await automaticEmail(t.db, 'welcome', welcomeData('fr'));
    const beforeEn = await automaticEmail(t.db, 'welcome', welcomeData('en'));
    const beforeConfirm = await automaticEmail(t.db, 'confirmation', {
      lang: 'fr',
      brand,
      name: 'Camille',
      newsletters: ['La Gazette'],
      confirmUrl: 'https://news.example.com/confirm?token=t',
      validDays: 7,
    });
    await saveAutomaticEmail(
      t.db,
      'welcome',
      'fr',
      {
        subject: 'Bienvenue dans la famille, {{member.name}}',
        preheader: 'Tout sur {{newsletters}}',
        markdown: 'Salut **{{member.name}}** !\n\nVisitez [notre site]({{site.url}}/posts).\n\n[Le grand bouton]({{site.url}})',
      },
      staff,
    );
    const fr = await automaticEmail(t.db, 'welcome', welcomeData('fr'));
    expect(fr.subject).toBe('Bienvenue dans la famille, Camille');
    expect(fr.html).toContain('Salut <strong>Camille</strong> !');
    expect(fr.html).toContain('href="https://news.example.com/posts"');
    expect(fr.html).toContain('Tout sur La Gazette');
    // The paragraph that is only a link is the brand's button (VML for Outlook too).
    expect(fr.html).toMatch(/v:roundrect[^>]*href="https:\/\/news\.example\.com"/);
    // The footer's preferences link stays, whatever the body says.
    expect(fr.html).toContain('href="https://news.example.com/unsubscribe?token=abc"');
    expect(fr.text).toContain('Salut Camille !');
    expect(fr.text).toContain('https://news.example.com/unsubscribe?token=abc');
    expect(fr.html).not.toBe(beforeFr.html);
    expect(fr.html).toContain('<html lang="fr"');

    // English members, and the other kinds, get exactly what they got before.
    expect(await automaticEmail(t.db, 'welcome', welcomeData('en'))).toEqual(beforeEn);
    expect(
      await automaticEmail(t.db, 'confirmation', {
        lang: 'fr',
        brand,
        name: 'Camille',
        newsletters: ['La Gazette'],
        confirmUrl: 'https://news.example.com/confirm?token=t',
        validDays: 7,
      }),
    ).toEqual(beforeConfirm);
  });

  it('escapes what a member brings into the HTML part', async () => {
    const html = (await automaticEmail(t.db, 'welcome', { ...welcomeData('fr'), name: '<script>x</script>' })).html;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
  });

  it('is compiled once per version, then only filled', async () => {
    await automaticEmail(t.db, 'welcome', welcomeData('fr'));
    const before = compiledCount();
    for (let i = 0; i < 20; i++) await automaticEmail(t.db, 'welcome', { ...welcomeData('fr'), name: `Member ${i}` });
    expect(compiledCount()).toBe(before);
    await saveAutomaticEmail(t.db, 'welcome', 'fr', { subject: 'V3 {{member.name}}', preheader: '', markdown: 'Hello' }, staff);
    expect((await automaticEmail(t.db, 'welcome', welcomeData('fr'))).subject).toBe('V3 Camille');
    expect(compiledCount()).toBe(before + 1);
  });

  it('is refused with the line and the reason when a variable is unknown; the previous version stays live', async () => {
    const live = await getAutomaticEmail(t.db, 'welcome', 'fr');
    const save = saveAutomaticEmail(
      t.db,
      'welcome',
      'fr',
      { subject: 'Hi', preheader: '', markdown: 'Hello\n\nthere\n\nDear {{member.first_name}},' },
      staff,
    );
    await expect(save).rejects.toThrow(TemplateError);
    await expect(save).rejects.toThrow(/^Line 5 of the body: \{\{member\.first_name\}\} is not a variable of the welcome email/);
    const after = await getAutomaticEmail(t.db, 'welcome', 'fr');
    expect(after.version).toBe(live.version);
    expect(after.template).toEqual(live.template);
    expect((await automaticEmail(t.db, 'welcome', welcomeData('fr'))).subject).toBe('V3 Camille');
  });

  it('refuses unpaired braces and a block that does not stand alone, with their line', () => {
    expect(checkTemplate('welcome', { subject: 'x', preheader: '', markdown: 'a\n{{member.name' })[0]).toMatchObject({
      line: 2,
      code: 'unbalanced_braces',
    });
    expect(checkTemplate('comment_notifications', { subject: 'x', preheader: '', markdown: 'Here: {{notices}}' })[0]).toMatchObject({
      line: 1,
      code: 'block_not_alone',
    });
  });
});

describe('required links', () => {
  const confirm = (markdown: string) => ({ subject: 'Confirm', preheader: '', markdown });

  it('cannot be removed: a confirmation without {{confirm_url}} is refused with the reason', async () => {
    const save = saveAutomaticEmail(t.db, 'confirmation', 'en', confirm('Please confirm. Thanks!'), staff);
    await expect(save).rejects.toThrow(/must contain \{\{confirm_url\}\} as a link/);
    expect((await getAutomaticEmail(t.db, 'confirmation', 'en')).custom).toBe(false);
  });

  it('are refused when the Markdown would drop the link (a code span), with the line', () => {
    const problems = checkTemplate('confirmation', confirm('Please confirm.\n\nCopy `{{confirm_url}}` into your browser.'));
    expect(problems[0]).toMatchObject({ code: 'required_link', line: 3 });
    expect(problems[0]!.message).toMatch(/^Line 3 of the body: \{\{confirm_url\}\} is not a link/);
  });

  it('hold for sign-in, address change and gift too, and a link written any Markdown way is kept', () => {
    expect(checkTemplate('sign_in', { subject: 's', preheader: '', markdown: 'Your code is {{code}}.' })[0]!.code).toBe('required_link');
    expect(checkTemplate('email_change', { subject: 's', preheader: '', markdown: 'Hi' })[0]!.code).toBe('required_link');
    expect(checkTemplate('gift', { subject: 's', preheader: '', markdown: '{{gift.intro}}' })[0]!.code).toBe('required_link');
    expect(checkTemplate('comment_notifications', { subject: 's', preheader: '', markdown: 'Hi' })[0]!.code).toBe('required_link');
    expect(checkTemplate('confirmation', confirm('[Yes]({{confirm_url}})'))).toEqual([]);
    expect(checkTemplate('confirmation', confirm('Paste {{confirm_url}}'))).toEqual([]);
    expect(checkTemplate('confirmation', confirm('<{{confirm_url}}>'))).toEqual([]);
  });

  it('refuses a variable inside another address: a member’s private link or code never goes to another site', () => {
    const signIn = (markdown: string) => checkTemplate('sign_in', { subject: 's', preheader: '', markdown });
    const leak = signIn('[Sign in](https://elsewhere.example/?u={{signin_url}}&c={{code}})\n\n[.]({{signin_url}})');
    expect(leak.map((p) => p.code)).toContain('variable_in_address');
    expect(leak.find((p) => p.code === 'variable_in_address')).toMatchObject({ line: 1 });
    expect(signIn('![x](https://elsewhere.example/{{code}}.png)\n\n[Sign in]({{signin_url}})').map((p) => p.code)).toContain(
      'variable_in_address',
    );
    expect(signIn('[Sign in]({{signin_url}}) or enter {{code}}.')).toEqual([]);
    expect(signIn('[Sign in]({{signin_url}}), or [read first]({{site.url}}/posts).')).toEqual([]);
  });
});

describe('reset and versions', () => {
  it('reset puts the default back, and the versions show every save and the reset', async () => {
    const before = await getAutomaticEmail(t.db, 'welcome', 'fr');
    expect(before.custom).toBe(true);
    const reset = await resetAutomaticEmail(t.db, 'welcome', 'fr', staff);
    expect(reset.custom).toBe(false);
    expect(reset.template).toEqual(defaultTemplate('welcome', 'fr'));
    const sent = await automaticEmail(t.db, 'welcome', welcomeData('fr'));
    expect(sent.subject).toBe('Bienvenue sur Field Notes');
    const versions = await listVersions(t.db, 'welcome', 'fr');
    expect(versions.map((v) => [v.version, v.reset])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);
    expect(versions[1]!.subject).toBe('V3 {{member.name}}');
    expect(versions[0]!.createdBy).toBe('editor@example.com');
  });
});

describe('the defaults as Markdown', () => {
  it.each(AUTOMATIC_EMAIL_KINDS.flatMap((k) => ['en', 'fr'].map((l) => [k, l] as [AutomaticEmailKind, string])))(
    '%s (%s) checks, and as an override renders what the default says',
    (kind, lang) => {
      const template = defaultTemplate(kind, lang);
      expect(checkTemplate(kind, template)).toEqual([]);
      const spec = KINDS[kind];
      const asOverride = renderSample(kind, lang, template, brand);
      const today = renderSample(kind, lang, null, brand);
      expect(asOverride.subject).toBe(today.subject);
      expect(asOverride.html).not.toMatch(/\{\{|HEARTH|hearth\.invalid/);
      expect(asOverride.text).not.toMatch(/\{\{|HEARTH|hearth\.invalid/);
      // Every link of today's email is in the override's rendering too.
      const links = (html: string) => new Set([...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]));
      for (const link of links(today.html)) expect(links(asOverride.html), `${kind} ${lang} ${link}`).toContain(link);
      expect(spec.required.every((r) => template.markdown.includes(`{{${r}}}`))).toBe(true);
    },
  );
});

describe('the trial reminder', () => {
  it('goes out with its override in the member language', async () => {
    await sql`insert into tiers (slug, name, paid, monthly_amount, currency) values ('supporter', 'Soutien', true, 500, 'eur')`.execute(
      t.db,
    );
    const member = (
      await sql<{ id: string }>`insert into members (email, name, status, tier_id, referral_code, language)
        values ('essai@example.com', 'Essai', 'active', (select id from tiers where slug = 'free'), 'essai', 'fr') returning id`.execute(
        t.db,
      )
    ).rows[0]!.id;
    await sql`insert into subscriptions (stripe_subscription_id, member_id, tier_id, status, trial_end)
      values ('sub_trial', ${member}, (select id from tiers where slug = 'supporter'), 'trialing', now() + interval '3 days')`.execute(
      t.db,
    );
    await saveAutomaticEmail(
      t.db,
      'trial_reminder',
      'fr',
      {
        subject: 'Votre essai {{tier.name}} se termine le {{trial.end_date}}',
        preheader: '',
        markdown: 'Petit rappel : {{trial.outcome}}\n\n[Mon compte]({{account_url}})',
      },
      staff,
    );
    expect(await sendTrialReminder(t.db, { siteUrl: 'https://news.example.com' }, 'sub_trial')).toBe(true);
    const job = await sql<{ payload: { message: { subject: string; html: string; text: string } } }>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_email' and j.payload->'message'->'to'->>0 = 'essai@example.com'`.execute(t.db);
    const message = job.rows[0]!.payload.message;
    expect(message.subject).toMatch(/^Votre essai Soutien se termine le \d+ \S+ \d{4}$/);
    expect(message.text).toMatch(/^Petit rappel : Votre essai gratuit se termine le/);
    expect(message.html).toContain('href="https://news.example.com/account"');
  });
});

describe('the gift emails', () => {
  const sentTo = async (address: string) => {
    const job = await sql<{ payload: { message: { subject: string; text: string } } }>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_email' and j.payload->'message'->'to'->>0 = ${address} order by j.id`.execute(t.db);
    return job.rows.map((r) => r.payload.message);
  };
  const newGift = async (recipient: string | null) => {
    await sql`insert into tiers (slug, name, paid, monthly_amount, currency) values ('gift-tier', 'Patron', true, 500, 'usd')
      on conflict do nothing`.execute(t.db);
    const tier = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'gift-tier').executeTakeFirstOrThrow();
    const row = await t.db
      .insertInto('gifts')
      .values({
        tier_id: tier.id,
        months: 3,
        amount: 1500,
        currency: 'usd',
        buyer_email: 'gift-buyer@example.com',
        recipient_email: recipient,
        message: 'Enjoy',
        deliver_on: '2026-01-01',
        locale: 'en',
        status: 'paid',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  };

  it("to the buyer (no recipient's address) use the buyer's own kind: the recipient's override never reaches the buyer", async () => {
    const { deliverGift } = await import('../../src/domain/billing/gifts.ts');
    await saveAutomaticEmail(
      t.db,
      'gift',
      'en',
      {
        subject: 'Surprise! {{gift.duration}} of {{tier.name}} for you',
        preheader: '',
        markdown: '{{gift.intro}}\n\n[Redeem]({{redeem_url}})',
      },
      staff,
    );
    // To a recipient: the override of `gift`.
    expect(await deliverGift(t.db, { siteUrl: 'https://news.example.com' }, await newGift('gift-friend@example.com'))).toBe(true);
    expect((await sentTo('gift-friend@example.com')).map((m) => m.subject)).toEqual(['Surprise! 3 months of Patron for you']);

    // To the buyer, to hand over: not the recipient's subject, but the buyer's own default.
    const forBuyer = await newGift(null);
    expect(await deliverGift(t.db, { siteUrl: 'https://news.example.com' }, forBuyer)).toBe(true);
    const [first] = await sentTo('gift-buyer@example.com');
    expect(first!.subject).toBe('Your gift link for Patron');
    expect(first!.text).toContain('Here is the gift you bought');

    // The buyer's email has its own override.
    await saveAutomaticEmail(
      t.db,
      'gift_buyer',
      'en',
      { subject: 'Your {{tier.name}} gift, ready to hand over', preheader: '', markdown: '{{gift.intro}}\n\n[The link]({{redeem_url}})' },
      staff,
    );
    expect(await deliverGift(t.db, { siteUrl: 'https://news.example.com' }, forBuyer, { resend: true })).toBe(true);
    expect((await sentTo('gift-buyer@example.com')).map((m) => m.subject)).toEqual([
      'Your gift link for Patron',
      'Your Patron gift, ready to hand over',
    ]);
  });
});
