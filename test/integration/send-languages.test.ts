import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPost } from '../../src/domain/content/editor.ts';
import { createSend, getSend } from '../../src/domain/sending/sends.ts';
import { batchMessages, idempotencyKey } from '../../src/domain/sending/payload.ts';
import { createSendStore } from '../../src/domain/sending/store.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createDatabase, type DatabaseHandle } from '../../src/lib/db.ts';
import { createResendMailer } from '../../src/lib/mailer/resend.ts';
import { createRateLimiter } from '../../src/lib/mail-rate.ts';
import type { QueueRunner } from '../../src/lib/queue.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { startWorker } from '../../src/worker.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { seedAudience } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type RecordedEmail, type ResendTestServer } from '../servers/resend.ts';

/**
 * A send of one post to a French member and an English member of the same (English) site: each
 * gets the fixed parts in their language, the French one the French translation when there is
 * one, gated by the translation's own visibility; a batch re-posted after the snapshot is the
 * same request whatever the member changed since.
 */
const FROM = 'Field Notes <letters@example.com>';
const SITE = 'https://news.example.com';

let t: TestDatabase;
let resend: ResendTestServer;
let workerDb: DatabaseHandle;
let worker: QueueRunner | undefined;

function runtime(): Runtime {
  const config = { ...loadConfig({ SITE_URL: SITE }), appSecret: TEST_SECRET };
  const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM });
  return { config, keys: siteKeys(config), db: workerDb.db, mailer, stripe: undefined };
}

async function sendAndWait(postId: string): Promise<string> {
  const send = await createSend(t.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
  await waitFor(() => getSend(t.db, send.id), {
    until: (s) => ['sent', 'failed', 'cancelled'].includes(s.status),
    timeout: 30_000,
    what: `send ${send.id} to finish`,
  });
  expect(await getSend(t.db, send.id)).toMatchObject({ status: 'sent', recipients: 4, posted: 4, failed: 0 });
  return send.id;
}

const to = (address: string): RecordedEmail => {
  const found = resend.emails.filter((e) => e.to[0] === address);
  expect(found).toHaveLength(1);
  return found[0]!;
};

let n = 0;
const post = (input: {
  title: string;
  markdown: string;
  visibility?: 'public' | 'paid';
  language?: string | null;
  translationOf?: string | null;
}) =>
  createPost(t.db, { slug: `letter-${++n}`, status: 'published', visibility: input.visibility ?? 'public', ...input }, null).then(
    (p) => p.id,
  );

beforeAll(async () => {
  t = await createTestDatabase();
  workerDb = createDatabase(t.url, { max: 10 });
  resend = await startResendTestServer();
  // reader1: French, free; reader2: no language (the site's, English), free; reader3: French,
  // paid; reader4: English, paid.
  await seedAudience(t.db, 4);
  await sql`update members set language = 'fr' where email in ('reader1@example.com', 'reader3@example.com')`.execute(t.db);
  await sql`update members set language = 'en' where email = 'reader4@example.com'`.execute(t.db);
  await sql`update members set name = null where email = 'reader1@example.com'`.execute(t.db);
  await sql`update members set tier_id = (select id from tiers where slug = 'supporter') where email in ('reader3@example.com', 'reader4@example.com')`.execute(
    t.db,
  );
  const rt = runtime();
  worker = await startWorker(rt, workerDb.pool, {
    retry: { maxAttempts: 3, baseSeconds: 0.2, maxSeconds: 1 },
    limiter: createRateLimiter(rt.db, { requestsPerSecond: 500 }),
  });
});
beforeEach(() => {
  resend.emails.length = 0;
  resend.countByRecipient().clear();
});
afterEach(async () => {
  // Each test sends its own post; nothing of a finished send is left to run.
});
afterAll(async () => {
  await worker?.stop();
  await resend.close();
  await workerDb.close();
  await t.drop();
});

describe('a send in each member’s language', () => {
  it('gives a French member French fixed parts and an English member English ones, the same post to both', async () => {
    const id = await post({ title: 'Harvest notes', markdown: 'The **harvest** came early.\n\n{{referral}}' });
    const sendId = await sendAndWait(id);
    const fr = to('reader1@example.com');
    const en = to('reader2@example.com');
    // Fixed parts: greeting (a member without a name too), footer links, view in browser, referral block.
    expect(fr.html).toContain('lang="fr"');
    expect(fr.html).toContain('Bonjour à vous,');
    expect(fr.html).toContain('Se désabonner');
    expect(fr.html).toContain('Préférences');
    expect(fr.html).toContain('Lire dans le navigateur');
    expect(fr.html).not.toContain('Unsubscribe');
    expect(fr.text).toContain('Se désabonner:');
    expect(en.html).toContain('lang="en"');
    expect(en.html).toContain('Hi Reader 2,');
    expect(en.html).toContain('Unsubscribe');
    expect(en.html).not.toContain('Se désabonner');
    // The post itself is the same for both (it has no translation).
    for (const e of [fr, en]) {
      expect(e.subject).toBe('Harvest notes');
      expect(e.html).toContain('<strong>harvest</strong> came early');
    }
    // One rendering per language, never per member; the site's is the send's own.
    const rows = await t.db.selectFrom('deliveries').select(['member_id', 'language']).where('send_id', '=', sendId).execute();
    expect(rows.map((r) => r.language).sort()).toEqual(['fr', 'fr', null, null]);
    const rendered = (await t.db.selectFrom('sends').select('rendered').where('id', '=', sendId).executeTakeFirstOrThrow()).rendered as {
      languages?: Record<string, unknown>;
    };
    expect(Object.keys(rendered.languages ?? {})).toEqual(['fr']);
  });

  it('gives the French member the French translation, and the English member the original', async () => {
    const original = await post({ title: 'Harvest notes II', markdown: 'The harvest came early this year.' });
    await post({
      title: 'Notes de récolte II',
      markdown: 'La récolte est arrivée tôt cette année.',
      language: 'fr',
      translationOf: original,
    });
    await sendAndWait(original);
    for (const address of ['reader1@example.com', 'reader3@example.com']) {
      const fr = to(address);
      expect(fr.subject).toBe('Notes de récolte II');
      expect(fr.html).toContain('La récolte est arrivée tôt');
      expect(fr.html).not.toContain('The harvest came early');
      expect(fr.html).toContain('Se désabonner');
    }
    for (const address of ['reader2@example.com', 'reader4@example.com']) {
      const en = to(address);
      expect(en.subject).toBe('Harvest notes II');
      expect(en.html).toContain('The harvest came early');
      expect(en.html).not.toContain('La récolte');
    }
  });

  it('keeps a paid translation gated: a free French member gets its preview and the upgrade text in French', async () => {
    const original = await post({ title: 'Open letter', markdown: 'Everyone may read all of this.' });
    await post({
      title: 'Lettre réservée',
      markdown: 'Le début, pour tous.\n\n<!--more-->\n\nLa suite secrète, pour les membres payants.',
      visibility: 'paid',
      language: 'fr',
      translationOf: original,
    });
    await sendAndWait(original);
    const free = to('reader1@example.com');
    expect(free.html).toContain('Le début, pour tous.');
    expect(free.html).not.toContain('La suite secrète');
    expect(free.text).not.toContain('La suite secrète');
    expect(free.html).toContain('Lire l’article en entier');
    const paid = to('reader3@example.com');
    expect(paid.html).toContain('La suite secrète');
    // The English members read the public original whole.
    expect(to('reader2@example.com').html).toContain('Everyone may read all of this.');
  });

  it('re-posts a batch byte for byte after the member changed language: the provider takes it as the same request', async () => {
    const id = await post({ title: 'Steady', markdown: 'Nothing changes after the snapshot.' });
    const sendId = await sendAndWait(id);
    expect(to('reader1@example.com').html).toContain('Se désabonner');
    await sql`update members set language = 'en' where email = 'reader1@example.com'`.execute(t.db);
    // A worker that crashed after posting batch 0 posts it again from what the snapshot fixed.
    const store = createSendStore(t.db);
    const fixed = await store.fixedSend(sendId);
    const deliveries = await t.db
      .selectFrom('deliveries')
      .select(['member_id', 'email', 'name', 'referral_code', 'variant', 'language'])
      .where('send_id', '=', sendId)
      .orderBy('member_id')
      .execute();
    const messages = batchMessages(
      fixed,
      deliveries.map((d) => ({
        memberId: d.member_id,
        email: d.email,
        name: d.name,
        referralCode: d.referral_code,
        variant: d.variant === 'p' ? ('preview' as const) : ('full' as const),
        language: d.language,
      })),
      siteKeys({ ...loadConfig({ SITE_URL: SITE }), appSecret: TEST_SECRET }),
    );
    const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM });
    // A different payload under the same key would be a 409 from the provider.
    const again = await mailer.sendBatch(messages, { idempotencyKey: idempotencyKey(sendId, 0) });
    expect(again.ok).toBe(true);
    expect(resend.countByRecipient().get('reader1@example.com')).toBe(1);
    await sql`update members set language = 'fr' where email = 'reader1@example.com'`.execute(t.db);
  });
});
