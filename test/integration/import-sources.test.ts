import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createImport,
  getImport,
  listChanges,
  runImport,
  startImport,
  type ImportOptions,
  type ImportRecord,
  type ImportSummary,
} from '../../src/domain/imports/pipeline.ts';
import { memberTimeline } from '../../src/domain/members/events.ts';
import { membersCsv } from '../../src/domain/members/manage.ts';
import { emailHash } from '../../src/domain/members/suppression.ts';
import { ValidationError } from '../../src/lib/errors.ts';
import { parseMemberFilter } from '../../src/web/member-filter.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Files shaped exactly like each service's published export (test/fixtures/imports/sources),
 * checked member by member: status, tier and access, dates, notes, labels. Then the sync rules of
 * a cutover re-import, the confirmation paying members need, and the round trip of Hearth's own
 * export.
 */
let t: TestDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
  await t.db
    .insertInto('tiers')
    .values([
      { slug: 'gold', name: 'Gold', paid: true, monthly_amount: 500, currency: 'usd' },
      { slug: 'premium', name: 'Premium', paid: true, monthly_amount: 800, currency: 'usd' },
    ])
    .execute();
});
afterEach(async () => {
  await t.drop();
});

function source(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/imports/sources/${name}`, import.meta.url));
}

async function* pieces(body: string | Uint8Array, size = 4096): AsyncIterable<Uint8Array> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size);
}

async function importFile(body: string | Uint8Array, options: ImportOptions = {}): Promise<ImportRecord> {
  const created = await createImport(t.db, { filename: 'members.csv', body: pieces(body) });
  await startImport(t.db, created.id, options);
  await runImport(t.db, t.pool, created.id);
  return getImport(t.db, created.id);
}

async function member(email: string) {
  return t.db
    .selectFrom('members as m')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select([
      'm.id',
      'm.email',
      'm.name',
      'm.status',
      't.slug as tier',
      'm.tier_source',
      'm.comp_until',
      'm.stripe_customer_id',
      'm.notes',
      'm.created_at',
      'm.confirmed_at',
      'm.unsubscribed_at',
      sql<
        string[]
      >`coalesce((select array_agg(l.name order by l.name) from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id), '{}')`.as(
        'labels',
      ),
    ])
    .where(sql`lower(m.email)`, '=', email.toLowerCase())
    .executeTakeFirstOrThrow();
}

async function emails(): Promise<string[]> {
  return (await t.db.selectFrom('members').select('email').orderBy('id').execute()).map((m) => m.email);
}

async function rejections(importId: string): Promise<Array<[number, string | null, string]>> {
  const rows = await t.db
    .selectFrom('import_rejections')
    .select(['row_number', 'email', 'reason'])
    .where('import_id', '=', importId)
    .orderBy('row_number')
    .execute();
  return rows.map((r) => [r.row_number, r.email, r.reason]);
}

const summaryOf = (r: ImportRecord) => r.summary as unknown as ImportSummary;

describe('each source, member by member', () => {
  it('Ghost: paid, comped, free, unsubscribed, an IDN address, a deleted member; notes with line breaks', async () => {
    const done = await importFile(source('ghost-members.csv'), { markConfirmed: true, attestation: 'Ghost double opt-in' });
    expect(done).toMatchObject({ status: 'done', format: 'ghost', rows: 6, imported: 5, rejected: 1 });
    expect(await rejections(done.id)).toEqual([[7, 'gone@example.com', 'deleted in the source']]);
    // The Ghost tier "Gold" is the Hearth tier of the same name, without a mapping.
    expect(await member('payer@example.com')).toMatchObject({
      name: 'Paula Payer',
      status: 'active',
      tier: 'gold',
      tier_source: 'stripe',
      stripe_customer_id: 'cus_PaulaPayer01',
      comp_until: null,
      notes: 'Annual supporter, since launch',
      created_at: new Date('2022-03-16T08:03:11.000Z'),
      confirmed_at: new Date('2022-03-16T08:03:11.000Z'),
      labels: ['Podcast', 'VIP'],
    });
    expect(await member('comp@example.com')).toMatchObject({
      tier: 'gold',
      tier_source: 'comp',
      comp_until: null,
      stripe_customer_id: null,
      notes: 'Press friend\nasked for comp',
      labels: ['Press'],
    });
    expect(await member('free@example.com')).toMatchObject({ status: 'active', tier: 'free', tier_source: 'default', notes: '' });
    expect(await member('left@example.com')).toMatchObject({ status: 'unsubscribed', tier: 'free', confirmed_at: null });
    // The domain is stored in its ASCII form; the local part as written.
    expect(await member('info@xn--bcher-kva.de')).toMatchObject({ email: 'info@xn--bcher-kva.de', name: 'Bücherei', labels: ['Händler'] });
    expect(summaryOf(done).plans).toHaveLength(2);
    expect(summaryOf(done).plans).toEqual(
      expect.arrayContaining([
        { plan: 'Gold', access: 'comp', rows: 1, tier: 'gold' },
        { plan: 'Gold', access: 'paid', rows: 1, tier: 'gold' },
      ]),
    );
  });

  it('Substack: yearly and founding payers, comp and gift until their expiry, email_disabled, a lapsed payer, a deletion request', async () => {
    const done = await importFile(source('substack-subscribers.csv'), {
      plans: {
        yearly: { tier: 'premium' },
        founding: { tier: 'premium' },
        comp: { tier: 'premium' },
        gift: { tier: 'premium', access: 'gift' },
      },
    });
    expect(done).toMatchObject({ status: 'done', format: 'substack', rows: 9, imported: 8, rejected: 1 });
    expect(await rejections(done.id)).toEqual([[10, 'x7k2@deletion-request.substack.com', 'deleted in the source']]);
    expect(await member('yearly@example.com')).toMatchObject({
      status: 'pending',
      tier: 'premium',
      tier_source: 'stripe',
      comp_until: null,
    });
    expect(await member('founder@example.com')).toMatchObject({ tier: 'premium', tier_source: 'stripe' });
    expect(await member('comped@example.com')).toMatchObject({
      tier: 'premium',
      tier_source: 'comp',
      comp_until: new Date('2026-12-31T00:00:00Z'),
    });
    expect(await member('gifted@example.com')).toMatchObject({
      tier: 'premium',
      tier_source: 'comp',
      comp_until: new Date('2026-06-30T00:00:00Z'),
    });
    expect(await member('reader@example.com')).toMatchObject({ status: 'pending', tier: 'free', tier_source: 'default' });
    expect(await member('quiet@example.com')).toMatchObject({ status: 'unsubscribed', tier: 'free' });
    expect(await member('lapsed@example.com')).toMatchObject({ tier: 'free', tier_source: 'default' });
    expect(await member('ömil@gmail.com')).toMatchObject({ email: 'ömil@gmail.com', created_at: new Date('2024-04-04T04:04:04Z') });
  });

  it('beehiiv: premium with its Stripe customer, the Substack signup date, unsubscribed_at, a never-confirmed row', async () => {
    const done = await importFile(source('beehiiv-subscribers.csv'));
    expect(done).toMatchObject({ status: 'done', format: 'beehiiv', rows: 4, imported: 3, rejected: 1 });
    expect(await member('premium@example.com')).toMatchObject({
      tier: 'premium',
      tier_source: 'stripe',
      stripe_customer_id: 'cus_BeePremium01',
      // The date they first subscribed, at Substack, before the move to beehiiv.
      created_at: new Date('2021-09-14T12:00:00Z'),
    });
    expect(await member('bfree@example.com')).toMatchObject({ tier: 'free', created_at: new Date('2022-02-02T02:02:02Z') });
    expect(await member('bleft@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(await rejections(done.id)).toEqual([
      [5, 'bvalid@example.com', 'never confirmed their subscription in the source (status "validating")'],
    ]);
  });

  it('Mailchimp: subscribed (NOTES, tags with commas, OPTIN_TIME), unsubscribed and cleaned exports; a tag mapped to a tier', async () => {
    const subscribed = await importFile(source('mailchimp-subscribed.csv'), { plans: { 'tag:VIP': { tier: 'gold', access: 'comp' } } });
    expect(subscribed).toMatchObject({ status: 'done', format: 'mailchimp', imported: 2 });
    expect(await member('ann@example.com')).toMatchObject({
      name: 'Ann Smith',
      notes: 'Met at the fair',
      labels: ['Early readers', 'Podcast, guests'],
      created_at: new Date('2019-03-01T10:15:00Z'),
      tier: 'free',
    });
    expect(await member('ben@example.com')).toMatchObject({
      tier: 'gold',
      tier_source: 'comp',
      created_at: new Date('2020-11-05T07:00:00Z'),
    });
    await importFile(source('mailchimp-unsubscribed.csv'));
    await importFile(source('mailchimp-cleaned.csv'));
    expect(await member('dan@example.com')).toMatchObject({ status: 'unsubscribed', unsubscribed_at: null });
    expect(await member('eli@example.com')).toMatchObject({ status: 'bounced' });
    const hashes = (await t.db.selectFrom('suppressions').select(['email_hash', 'reason']).execute()).map((s) => [s.email_hash, s.reason]);
    expect(hashes).toEqual([[emailHash('eli@example.com'), 'bounced']]);
  });

  it('Kit: active with tags, cancelled, bounced, inactive (never confirmed)', async () => {
    const done = await importFile(source('kit-subscribers.csv'));
    expect(done).toMatchObject({ status: 'done', format: 'kit', rows: 4, imported: 3, rejected: 1 });
    expect(await member('maja@example.com')).toMatchObject({ status: 'pending', labels: ['Customer', 'Podcast listener'] });
    expect(await member('nils@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(await member('kbounce@example.com')).toMatchObject({ status: 'bounced' });
    // No event row per imported member; the timeline derives it from members.import_id.
    expect(await t.db.selectFrom('events').select('id').execute()).toEqual([]);
    const timeline = await memberTimeline(t.db, (await member('maja@example.com')).id);
    expect(timeline.map((e) => [e.type, e.data])).toEqual([['imported', { import_id: done.id }]]);
  });

  it("listmonk: enabled, disabled, and blocklisted (suppressed, never mailed); Go's dates", async () => {
    const done = await importFile(source('listmonk-subscribers.csv'));
    expect(done).toMatchObject({ status: 'done', format: 'listmonk', rows: 3, imported: 3, rejected: 0 });
    expect(await member('lena@example.com')).toMatchObject({ status: 'pending', created_at: new Date('2023-04-05T10:11:12.123Z') });
    expect(await member('off@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(await member('spam@example.com')).toMatchObject({ status: 'unsubscribed' });
    const suppressions = await t.db.selectFrom('suppressions').select(['email_hash', 'reason']).execute();
    expect(suppressions).toEqual([{ email_hash: emailHash('spam@example.com'), reason: 'manual' }]);
  });

  it('a Windows-1252 file with German headers: detected, converted, mapped by hand; unmapped columns listed', async () => {
    const created = await createImport(t.db, { filename: 'export.csv', body: pieces(source('windows-1252-german.csv')) });
    expect(created.encoding).toBe('windows-1252');
    expect(created.headers).toEqual(['Adresse électronique', 'Vorname', 'Nachname', 'Anmeldedatum', 'Notiz']);
    expect(created.mapping).toEqual({});
    await expect(startImport(t.db, created.id, {})).rejects.toThrow(/no email column/);
    await expect(startImport(t.db, created.id, { mapping: { 'Adresse électronique': 'e-mail' } })).rejects.toThrow(
      /field "e-mail" Hearth does not have/,
    );
    await startImport(t.db, created.id, {
      mapping: {
        'Adresse électronique': 'email',
        Vorname: 'first_name',
        Nachname: 'last_name',
        Anmeldedatum: 'created_at',
        Notiz: 'notes',
      },
    });
    await runImport(t.db, t.pool, created.id);
    expect(await getImport(t.db, created.id)).toMatchObject({ status: 'done', imported: 2, rejected: 0 });
    expect(await member('jürgen@example.de')).toMatchObject({
      name: 'Jürgen Größe',
      notes: 'Zahlt 5 € pro Monat – „treu“',
      created_at: new Date('2023-07-01T00:00:00Z'),
    });
    expect(await member('zoe@xn--bcher-kva.de')).toMatchObject({ name: 'Zoë Ärger' });
  });

  it('one member per address however its domain is written (Unicode or ASCII, any case)', async () => {
    const done = await importFile('email,name\ninfo@bücher.de,One\nINFO@XN--BCHER-KVA.DE,Two\ninfo@BÜCHER.de,Three\n');
    expect(done).toMatchObject({ imported: 1, rejected: 2 });
    expect(await emails()).toEqual(['info@xn--bcher-kva.de']);
    expect((await rejections(done.id)).map((r) => r[2])).toEqual(['duplicate of row 2', 'duplicate of row 2']);
  });
});

describe('re-import is a sync', () => {
  const early =
    'id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\n' +
    'a1,stay@example.com,Stay,,true,false,,2022-01-01T00:00:00.000Z,,,\n' +
    'a2,leave@example.com,Leave,,true,false,,2022-01-01T00:00:00.000Z,,,\n' +
    'a3,gone-here@example.com,Gone Here,,true,false,,2022-01-01T00:00:00.000Z,,,\n';
  const cutover =
    'id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\n' +
    'a1,stay@example.com,Stay,,true,false,,2022-01-01T00:00:00.000Z,,,\n' +
    'a2,leave@example.com,Leave,,false,false,,2022-01-01T00:00:00.000Z,,,\n' +
    'a3,gone-here@example.com,Gone Here,,true,false,,2022-01-01T00:00:00.000Z,,,\n' +
    'a4,new@example.com,New,,true,false,,2023-01-01T00:00:00.000Z,,,\n';

  it('the preview says who will be unsubscribed and writes nothing; the import then does it and lists them', async () => {
    await importFile(early, { markConfirmed: true, attestation: 'Ghost signup form' });
    // Someone leaves Hearth itself between the two imports.
    await t.db
      .updateTable('members')
      .set({ status: 'unsubscribed', unsubscribed_at: new Date() })
      .where('email', '=', 'gone-here@example.com')
      .execute();
    const before = await t.db.selectFrom('members').selectAll().orderBy('id').execute();

    const created = await createImport(t.db, { filename: 'cutover.csv', body: pieces(cutover) });
    await startImport(t.db, created.id, { preview: true, markConfirmed: true, attestation: 'Ghost signup form' });
    await runImport(t.db, t.pool, created.id);
    const previewed = await getImport(t.db, created.id);
    expect(previewed.status).toBe('previewed');
    expect(summaryOf(previewed)).toMatchObject({ new_members: 1, existing_members: 3, changes: { unsubscribed: 1, kept_left: 1 } });
    expect(summaryOf(previewed).messages).toContain('1 member unsubscribed at the source will be unsubscribed here.');
    expect(summaryOf(previewed).messages).toContain(
      '1 member who left Hearth are still subscribed at the source: they stay unsubscribed here.',
    );
    expect((await listChanges(t.db, created.id)).changes.map((c) => [c.email, c.change])).toEqual([
      ['gone-here@example.com', 'kept_left'],
      ['leave@example.com', 'unsubscribed'],
    ]);
    expect(await t.db.selectFrom('members').selectAll().orderBy('id').execute()).toEqual(before);

    // Started for real: the staged rows are used as they are.
    await startImport(t.db, created.id, { markConfirmed: true, attestation: 'Ghost signup form' });
    await runImport(t.db, t.pool, created.id);
    const done = await getImport(t.db, created.id);
    expect(done).toMatchObject({ status: 'done', rows: 4, imported: 1, updated: 3, rejected: 0 });
    expect(summaryOf(done).messages).toContain('1 member unsubscribed at the source were unsubscribed here.');
    expect((await member('leave@example.com')).status).toBe('unsubscribed');
    expect((await member('leave@example.com')).unsubscribed_at).not.toBeNull();
    // Never re-subscribed: they left Hearth itself.
    expect((await member('gone-here@example.com')).status).toBe('unsubscribed');
    expect((await member('stay@example.com')).status).toBe('active');
    expect((await member('new@example.com')).status).toBe('active');
    const events = await t.db.selectFrom('events').select(['type', 'data']).execute();
    expect(events).toEqual([{ type: 'status_changed', data: { import_id: done.id, from: 'active', to: 'unsubscribed' } }]);
  });

  it('a dated state older than a confirmation here does not win; a newer one does', async () => {
    await t.db
      .insertInto('members')
      .values([
        {
          email: 'back@example.com',
          status: 'active',
          tier_id: sql`(select id from tiers where slug = 'free')`,
          referral_code: 'back0001',
          confirmed_at: new Date('2025-01-01T00:00:00Z'),
        },
        {
          email: 'later@example.com',
          status: 'active',
          tier_id: sql`(select id from tiers where slug = 'free')`,
          referral_code: 'later001',
          confirmed_at: new Date('2020-01-01T00:00:00Z'),
        },
      ] as never)
      .execute();
    const mc =
      'Email Address,First Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,LEID,EUID,NOTES,TAGS\n' +
      'back@example.com,Back,2,2019-01-01 00:00:00,2019-01-01 00:00:00,2024-06-01 00:00:00,,1,a,,\n' +
      'later@example.com,Later,2,2019-01-01 00:00:00,2019-01-01 00:00:00,2024-06-01 00:00:00,,2,b,,\n';
    const done = await importFile(mc);
    expect((await member('back@example.com')).status).toBe('active');
    expect((await member('later@example.com')).status).toBe('unsubscribed');
    expect((await member('later@example.com')).unsubscribed_at).toEqual(new Date('2024-06-01T00:00:00Z'));
    expect(summaryOf(done).changes).toEqual({ unsubscribed: 1, kept_newer: 1 });
  });

  it('a block at the source suppresses an existing member', async () => {
    await importFile(source('listmonk-subscribers.csv').toString().replace('blocklisted', 'enabled'));
    expect((await member('spam@example.com')).status).toBe('pending');
    const done = await importFile(source('listmonk-subscribers.csv'));
    expect(summaryOf(done).changes).toMatchObject({ blocked: 1 });
    expect((await member('spam@example.com')).status).toBe('unsubscribed');
    expect(await t.db.selectFrom('suppressions').select('reason').execute()).toEqual([{ reason: 'manual' }]);
  });
});

describe('paying members', () => {
  it('a mapping that would make paying members free asks first: previewed, nothing written, then confirmed or mapped', async () => {
    const body = source('substack-subscribers.csv');
    const held = await importFile(body);
    expect(held.status).toBe('previewed');
    expect(summaryOf(held)).toMatchObject({ paying_as_free: 4, needs_confirmation: true });
    expect(held.error).toMatch(/4 members who pay, are comped or have a gift at the source would be imported as free/);
    expect(await emails()).toEqual([]);
    await expect(startImport(t.db, held.id, { plans: { yearly: { tier: 'platinum' } } })).rejects.toThrow(ValidationError);

    await startImport(t.db, held.id, { plans: { yearly: { tier: 'premium' }, founding: { tier: 'gold' } }, confirmFree: true });
    await runImport(t.db, t.pool, held.id);
    expect(await getImport(t.db, held.id)).toMatchObject({ status: 'done', imported: 8 });
    expect((await member('yearly@example.com')).tier).toBe('premium');
    expect((await member('founder@example.com')).tier).toBe('gold');
    expect((await member('comped@example.com')).tier).toBe('free');
  });

  it('keeps access set in Hearth and a Stripe customer id another member has', async () => {
    await t.db
      .insertInto('members')
      .values({
        email: 'other@example.com',
        status: 'active',
        tier_id: sql`(select id from tiers where slug = 'free')`,
        referral_code: 'other001',
        stripe_customer_id: 'cus_PaulaPayer01',
      } as never)
      .execute();
    const done = await importFile(source('ghost-members.csv'));
    expect(done.status).toBe('done');
    expect(await member('payer@example.com')).toMatchObject({ tier: 'gold', tier_source: 'stripe', stripe_customer_id: null });
  });
});

describe("Hearth's own export", () => {
  // Labels, names and notes as Hearth stores them: trimmed, no control characters but line breaks in notes.
  const text = (max: number) =>
    fc
      .string({
        unit: fc.constantFrom('a', 'Z', 'é', '€', ' ', ',', '"', "'", '=', '-', '@', ';', '\\', '日'),
        minLength: 1,
        maxLength: max,
      })
      .map((s) => s.replace(/\s+/g, ' ').trim())
      .filter((s) => s !== '');
  const date = fc.date({ min: new Date('2015-01-01T00:00:00Z'), max: new Date('2025-01-01T00:00:00Z'), noInvalidDate: true });
  const memberArb = fc.record({
    local: fc.stringMatching(/^[a-z0-9ö]{1,8}$/),
    domain: fc.constantFrom('example.com', 'xn--bcher-kva.de'),
    name: fc.option(text(20), { nil: null }),
    status: fc.constantFrom('pending', 'active', 'unsubscribed', 'bounced', 'complained'),
    access: fc.constantFrom('free', 'paid', 'comp', 'comp-until'),
    notes: fc.option(
      fc.tuple(text(30), fc.option(text(10), { nil: null })).map(([a, b]) => (b ? `${a}\n${b}` : a)),
      { nil: null },
    ),
    labels: fc.uniqueArray(text(12), { maxLength: 3, selector: (l) => l.toLowerCase() }),
    created: date,
    confirmed: date,
    newsletters: fc.subarray(['weekly', 'dispatch']),
    utm: fc.option(text(10), { nil: null }),
    campaign: fc.record({
      medium: fc.option(text(10), { nil: null }),
      campaign: fc.option(text(10), { nil: null }),
      referrer: fc.option(fc.constantFrom('https://news.ycombinator.com/item?id=1', 'https://t.co/x'), { nil: null }),
      ref: fc.option(fc.stringMatching(/^[a-z0-9]{4,8}$/), { nil: null }),
    }),
    language: fc.constantFrom(null, 'en', 'fr'),
    left: date,
    company: fc.option(text(15), { nil: null }),
  });

  async function snapshot() {
    return t.db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .select([
        'm.email',
        'm.name',
        'm.status',
        't.slug as tier',
        'm.tier_source',
        'm.comp_until',
        'm.stripe_customer_id',
        'm.notes',
        'm.created_at',
        'm.confirmed_at',
        'm.source_platform',
        'm.utm_source',
        'm.utm_medium',
        'm.utm_campaign',
        'm.referrer',
        'm.ref',
        'm.referral_code',
        'm.language',
        'm.unsubscribed_at',
        'm.fields',
        sql<string>`coalesce((select string_agg(l.name, '|' order by l.name) from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id), '')`.as(
          'labels',
        ),
        sql<string>`coalesce((select string_agg(n.slug, ' ' order by n.slug) from member_newsletters mn join newsletters n on n.id = mn.newsletter_id where mn.member_id = m.id), '')`.as(
          'newsletters',
        ),
      ])
      .orderBy('m.email')
      .execute();
  }

  it('imported into an empty site reproduces every member exactly (property)', async () => {
    await t.db.insertInto('newsletters').values({ slug: 'dispatch', name: 'The Dispatch' }).execute();
    await t.db.insertInto('member_fields').values({ key: 'company', label: 'Company', type: 'text' }).execute();
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(memberArb, { minLength: 1, maxLength: 12, selector: (m) => `${m.local}@${m.domain}` }),
        async (list) => {
          await sql`truncate members, member_labels, member_newsletters, labels, suppressions, imports cascade`.execute(t.db);
          let n = 0;
          for (const m of list) {
            n++;
            const email = `${m.local}@${m.domain}`;
            const row = await t.db
              .insertInto('members')
              .values({
                email,
                name: m.name,
                status: m.status,
                tier_id: sql`(select id from tiers where slug = ${m.access === 'free' ? 'free' : 'gold'})`,
                tier_source: m.access === 'free' ? 'default' : m.access === 'paid' ? 'stripe' : 'comp',
                comp_until: m.access === 'comp-until' ? new Date('2030-01-01T00:00:00Z') : null,
                stripe_customer_id: m.access === 'paid' ? `cus_Prop${n}` : null,
                notes: m.notes ?? '',
                created_at: m.created,
                confirmed_at: m.status === 'active' ? m.confirmed : null,
                source_platform: 'instagram',
                utm_source: m.utm,
                utm_medium: m.campaign.medium,
                utm_campaign: m.campaign.campaign,
                referrer: m.campaign.referrer,
                ref: m.campaign.ref,
                referral_code: `ref${n}code`,
                language: m.language,
                unsubscribed_at: m.status === 'unsubscribed' ? m.left : null,
                fields: JSON.stringify(m.company === null ? {} : { company: m.company }),
              } as never)
              .returning('id')
              .executeTakeFirstOrThrow();
            for (const label of m.labels) {
              const l = await t.db
                .insertInto('labels')
                .values({ name: label })
                .onConflict((oc) => oc.expression(sql`lower(name)`).doUpdateSet({ name: sql`labels.name` }))
                .returning('id')
                .executeTakeFirstOrThrow();
              await t.db
                .insertInto('member_labels')
                .values({ member_id: row.id, label_id: l.id })
                .onConflict((oc) => oc.doNothing())
                .execute();
            }
            for (const slug of m.newsletters) {
              await sql`insert into member_newsletters (member_id, newsletter_id) select ${row.id}, id from newsletters where slug = ${slug}`.execute(
                t.db,
              );
            }
          }
          const before = await snapshot();
          let csv = '';
          for await (const chunk of membersCsv(t.db, parseMemberFilter(new URLSearchParams()))) csv += chunk;
          await sql`truncate members, member_labels, member_newsletters, labels cascade`.execute(t.db);

          const done = await importFile(csv);
          expect(done).toMatchObject({ status: 'done', format: 'hearth', rejected: 0, imported: list.length });
          const after = await snapshot();
          expect(after).toEqual(before);
        },
      ),
      { numRuns: Number(process.env.ROUND_TRIP_RUNS ?? 15) },
    );
  }, 120_000);
});
