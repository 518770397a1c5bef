import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { pollToken } from '../../src/domain/polls/votes.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { formatDate } from '../../src/lib/i18n.ts';
import { hashToken } from '../../src/lib/tokens.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { englishLeftovers, visibleText } from '../helpers/i18n.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/**
 * Every reader page of the gift, offer, poll, embed, link-in-bio, join, tag, archive and home
 * routes, with the site in French: each says lang="fr" and has no English left, in their states
 * (an ended, used-up or archived offer; a gift redeemed, redeemed twice, by another member, or
 * an unknown link; a gated, closed or unknown poll; a bad answer link), with prices in French.
 * Then the site in English: the same pages are English for a stranger (the check can fail) and
 * French for a member whose language is French.
 */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let auth: Record<string, string>;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/** What the site's staff and members wrote, which may be in any language. */
const ALLOWED = [
  'Le Potager',
  'Des nouvelles du jardin.',
  'La Gazette du potager',
  'Semis d’automne',
  'Les radis poussent vite.',
  'Quel légume ensuite ?',
  'Radis',
  'Carotte',
  'Réservé',
  'Soutien',
  'Moitié prix',
  'Bonne lecture',
  'Camille',
  'Instagram',
];

const ids = { tier: '', offer: '', ended: '', full: '', archived: '', trial: '', poll: '', gatedPoll: '', member: '', other: '' };
let camille = '';
let other = '';

beforeAll(async () => {
  t = await createTestDatabase();
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  auth = { authorization: `Bearer ${(await createApiToken(t.db, owner.id, 'i18n')).token}`, 'content-type': 'application/json' };
  stripe = await startStripeTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await stripe?.close();
  await t?.drop();
});

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: auth,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}: ${res.status}`).toBeLessThan(300);
  return (await res.json()) as Record<string, Record<string, unknown>>;
};
const get = (path: string, cookie = '', ua = BROWSER) =>
  fetch(server.url + path, { redirect: 'manual', headers: { 'user-agent': ua, ...(cookie ? { cookie } : {}) } });
const post = (path: string, fields: Record<string, string>, cookie = '') =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: server.url,
      'user-agent': BROWSER,
      ...(cookie ? { cookie } : {}),
    },
  });

/** The page's language and the English left in its visible text. */
async function french(res: Response, status = 200): Promise<string> {
  const html = await res.text();
  expect(res.status, html.slice(0, 300)).toBe(status);
  expect(html).toMatch(/<html lang="fr" dir="ltr"/);
  expect(englishLeftovers(visibleText(html), 'fr', ALLOWED)).toEqual([]);
  // Intl writes French with (narrow) no-break spaces ("5,00 €", "50 %"): plain spaces for the checks below.
  return html.replace(/[\u00a0\u202f]/g, ' ');
}

async function gift(token: string, status: 'delivered' | 'paid' = 'delivered') {
  const tier = await t.db.selectFrom('tiers').select('id').where('slug', '=', ids.tier).executeTakeFirstOrThrow();
  await t.db
    .insertInto('gifts')
    .values({
      tier_id: tier.id,
      months: 3,
      amount: 1500,
      currency: 'eur',
      message: 'Bonne lecture',
      deliver_on: new Date().toISOString().slice(0, 10),
      status,
      token_hash: hashToken(token),
    })
    .execute();
}

describe('a French site', () => {
  it('has French content, a paid tier, offers in every state, polls and members', async () => {
    await api('PATCH', '/site', { language: 'fr', name: 'Le Potager', description: 'Des nouvelles du jardin.', time_zone: 'Europe/Paris' });
    await api('POST', '/newsletters', { slug: 'gazette', name: 'La Gazette du potager' });
    ids.tier = String(
      (await api('POST', '/tiers', { name: 'Soutien', monthly_amount: 500, yearly_amount: 5000, currency: 'eur' })).tier!.slug,
    );
    const offer = async (body: Record<string, unknown>) =>
      String((await api('POST', '/offers', { tier: ids.tier, name: 'Moitié prix', percent_off: 50, ...body })).offer!.code);
    ids.offer = await offer({ duration: 'repeating', duration_months: 3 });
    ids.trial = await offer({ duration: 'once', trial_days: 14, trial_without_card: true });
    ids.ended = await offer({ duration: 'forever' });
    ids.full = await offer({ duration: 'forever', max_redemptions: 1 });
    ids.archived = await offer({ duration: 'forever' });
    await t.db
      .updateTable('offers')
      .set({ ends_at: new Date(Date.now() - 60_000) })
      .where('code', '=', ids.ended)
      .execute();
    await t.db.updateTable('offers').set({ redemptions: 1 }).where('code', '=', ids.full).execute();
    const archived = await t.db.selectFrom('offers').select('id').where('code', '=', ids.archived).executeTakeFirstOrThrow();
    await api('DELETE', `/offers/${archived.id}`);

    const poll = await api('POST', '/polls', { question: 'Quel légume ensuite ?', answers: ['Radis', 'Carotte'] });
    ids.poll = String(poll.poll!.id);
    await api('POST', '/posts', {
      title: 'Semis d’automne',
      markdown: `Les radis poussent vite.\n\n${String(poll.poll!.block)}`,
      visibility: 'public',
      status: 'published',
      tags: ['radis'],
    });
    const gated = await api('POST', '/polls', { question: 'Quel légume ensuite ?', answers: ['Radis', 'Carotte'] });
    ids.gatedPoll = String(gated.poll!.id);
    await api('POST', '/posts', {
      title: 'Réservé',
      markdown: `Les radis poussent vite.\n\n<!--more-->\n\n${String(gated.poll!.block)}`,
      visibility: 'paid',
      status: 'published',
    });

    // Camille has no language of her own (the site's); the other member too.
    ids.member = String((await api('POST', '/members', { email: 'camille@example.com', name: 'Camille' })).member!.id);
    ids.other = String((await api('POST', '/members', { email: 'lou@example.com', name: 'Camille' })).member!.id);
    camille = `hearth_member=${(await createMemberSession(t.db, ids.member)).token}`;
    other = `hearth_member=${(await createMemberSession(t.db, ids.other)).token}`;
  });

  it.each(['/', '/posts', '/join', '/join/instagram', '/links', '/tags/radis', '/embed/subscribe', '/embed/subscribed', '/gift'])(
    '%s is all French',
    async (path) => {
      await french(await get(path));
    },
  );

  it('the join pages write their default copy in French, and the forms send the page language', async () => {
    const html = await french(await get('/join/instagram'));
    expect(html).toContain('Vous nous avez découverts sur Instagram ? Recevez Le Potager dans votre boîte mail.');
    expect(html).toContain('name="language" value="fr"');
    expect(await french(await get('/join'))).toContain('Recevez Le Potager dans votre boîte mail');
    expect(await french(await get('/embed/subscribe'))).toContain('name="language" value="fr"');
    expect(await french(await get('/links'))).toContain('name="language" value="fr"');
  });

  it('a referral link lands on the French join page', async () => {
    const res = await get('/r/nobody');
    expect(res.status).toBe(303);
    await french(await get(res.headers.get('location')!));
  });

  it('the tag page titles in French', async () => {
    expect(await french(await get('/tags/radis'))).toContain('Articles sur le thème « radis »');
  });

  it('the offer page shows the prices before and after in French, for a stranger and for a member', async () => {
    const html = await french(await get(`/offer/${ids.offer}`));
    expect(html).toContain('50 % de réduction sur Soutien pendant les 3 premiers mois.');
    expect(html).toMatch(/<s>5,00 €<\/s> <strong>2,50 €<\/strong> par mois/);
    expect(html).toMatch(/<s>50,00 €<\/s> <strong>25,00 €<\/strong> par an/);
    expect(html).toContain('Connectez-vous pour en profiter');
    expect(html).toContain('name="language" value="fr"');
    const trial = await french(await get(`/offer/${ids.trial}`));
    expect(trial).toContain('14 jours gratuits sans carte bancaire, puis <s>5,00 €</s>');
    expect(trial).toContain('sur le premier paiement');
    const member = await french(await get(`/offer/${ids.offer}`, camille));
    expect(member).toContain('Profiter de l’offre : 2,50 € par mois');
  });

  it('an ended, used-up or archived offer says so in French, with the normal price', async () => {
    const ended = await french(await get(`/offer/${ids.ended}`), 410);
    expect(ended).toContain('Cette offre est terminée');
    expect(ended).toContain('5,00 € par mois');
    expect(ended).not.toContain('<s>');
    expect(await french(await get(`/offer/${ids.full}`), 410)).toContain('Cette offre est épuisée');
    expect(await french(await get(`/offer/${ids.archived}`, camille), 410)).toContain('Adhérer pour 5,00 € par mois');
  });

  it('claiming an ended offer is refused in French: the refusal travels as a code, not as English words', async () => {
    const page = await french(await post('/account/checkout', { tier: ids.tier, interval: 'month', offer: ids.ended }, camille), 409);
    expect(page).toContain('Cette offre est terminée.');
    expect(page).toContain(`href="/offer/${ids.ended}"`);
  });

  it('an unknown recommendation link is the 404 page in French', async () => {
    for (const id of ['987654321', 'not-a-number']) {
      const page = await french(await get(`/recommendations/${id}/go`), 404);
      expect(page).toContain('Page introuvable');
    }
  });

  it('the gift page and its refusals are French', async () => {
    expect(await french(await get('/gift'))).toContain('Offrir une adhésion');
    expect(await french(await get('/gift?paid=1'))).toContain('Votre cadeau est réglé');
    const past = await french(await post('/gift', { tier: ids.tier, months: '3', deliver_on: '2020-01-01' }), 400);
    expect(past).toContain('La date de remise est passée.');
    const bad = await french(await post('/gift', { tier: ids.tier, months: '3', recipient_email: 'pas une adresse' }), 400);
    expect(bad).toContain('L’adresse du destinataire ne semble pas valide.');
  });

  it('a gift link: shown, redeemed, redeemed twice, by another member, unknown: all French', async () => {
    await gift('gift-token-camille-0123456789');
    const link = '/gift/redeem?token=gift-token-camille-0123456789';
    const shown = await french(await get(link));
    expect(shown).toContain('3 mois d’adhésion <strong>Soutien</strong>');
    expect(shown).toContain('Connectez-vous</a> pour l’activer');
    const done = await french(await post(link, { token: 'gift-token-camille-0123456789' }, camille));
    const until = await t.db.selectFrom('members').select('comp_until').where('id', '=', ids.member).executeTakeFirstOrThrow();
    expect(done).toContain(`Vous êtes membre Soutien jusqu’au ${formatDate('fr', until.comp_until!, 'Europe/Paris')}.`);
    expect(await french(await post(link, { token: 'gift-token-camille-0123456789' }, camille), 409)).toContain(
      'Vous avez déjà activé ce cadeau.',
    );
    expect(await french(await get(link, other), 409)).toContain('Ce cadeau a déjà été activé.');
    expect(await french(await get('/gift/redeem?token=nothing-like-it'), 404)).toContain('Ce lien de cadeau n’est pas valide.');
    await gift('gift-token-unpaid-0123456789', 'paid');
    expect(await french(await post('/gift/redeem', { token: 'gift-token-unpaid-0123456789' }, other), 409)).toContain(
      'Ce cadeau n’est pas encore prêt.',
    );
  });

  it('a poll: for a stranger, a member, closed, gated, unknown; and its email links', async () => {
    expect(await french(await get(`/polls/${ids.poll}`))).toContain('Connectez-vous</a> pour répondre.');
    const member = await french(await get(`/polls/${ids.poll}`, camille));
    expect(member).toContain('Répondre</button>');
    expect((await post(`/polls/${ids.poll}`, { answer: '1' }, camille)).status).toBe(303);
    const answered = await french(await get(`/polls/${ids.poll}`, camille));
    expect(answered).toContain('(votre réponse)');
    expect(answered).toContain('1 réponse');
    expect(answered).toContain('1 · 100 %');
    expect(await french(await post(`/polls/${ids.poll}`, { answer: 'x' }, camille), 400)).toContain('Choisissez l’une des réponses.');
    expect(await french(await post(`/polls/${ids.poll}`, { answer: '1' }), 401)).toContain('Connectez-vous pour répondre à ce sondage.');
    expect(await french(await get(`/polls/${ids.gatedPoll}`))).toContain('Ce sondage est réservé aux membres');
    // The post page (engineer E's) fills its polls in the reader's language too.
    const posts = (await api('GET', '/posts')) as unknown as { posts: Array<{ slug: string; title: string }> };
    const slug = posts.posts.find((p) => p.title === 'Semis d’automne')!.slug;
    expect(await (await get(`/posts/${slug}`)).text()).toContain('Connectez-vous</a> pour répondre.');

    const link = (answer: number) => `/p/${pollToken(TEST_SECRET, { pollId: ids.poll, memberId: ids.other, answer, sendId: null })}`;
    expect(await french(await get(link(0)))).toContain('Merci ! Votre réponse : <strong>Radis</strong>.');
    expect(await french(await get(link(1)))).toContain('Merci ! Votre réponse est désormais <strong>Carotte</strong>.');
    expect(await french(await get(link(0), '', 'curl/8.0'))).toContain('Oui, enregistrer ma réponse');
    expect(await french(await get('/p/not-a-token'), 404)).toContain('Ce lien ne fonctionne pas');

    await t.db
      .updateTable('polls')
      .set({ closes_at: new Date(Date.now() - 1000) })
      .where('id', '=', ids.poll)
      .execute();
    await heard(server, t.db);
    expect(await french(await get(link(0)))).toContain('Ce sondage est clos : voici ses résultats.');
    expect(await french(await get(`/polls/${ids.poll}`, camille))).toContain('Ce sondage est clos.');
    expect(await french(await post(`/polls/${ids.poll}`, { answer: '0' }, camille), 400)).toContain(
      'Ce sondage est clos ; votre réponse n’a pas été enregistrée.',
    );

    // An unknown poll is the 404 page (engineer A1 translates it): French frame and status.
    const unknown = await get('/polls/987654321');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toMatch(/<html lang="fr"/);
  });

  it('the "subscribe me too" page says an expired page in French', async () => {
    expect(await french(await post('/recommendations/subscribe', { token: 'forged', recommendation: '1' }), 400)).toContain(
      'Cette page a expiré.',
    );
  });
});

describe('an English site', () => {
  it('is English for a stranger (the check above can fail)', async () => {
    await api('PATCH', '/site', { language: 'en' });
    for (const path of [`/offer/${ids.offer}`, '/join/instagram', '/gift', `/polls/${ids.poll}`]) {
      const html = await (await get(path)).text();
      expect(html).toMatch(/<html lang="en"/);
      expect(englishLeftovers(visibleText(html), 'fr', ALLOWED).length, path).toBeGreaterThan(0);
    }
    expect(await (await get(`/offer/${ids.offer}`)).text()).toMatch(/<s>€5\.00<\/s> <strong>€2\.50<\/strong> a month/);
    expect(await (await get('/join/instagram')).text()).toContain('Found us on Instagram? Get Le Potager in your inbox.');
  });

  it('is French for a member whose language is French', async () => {
    await api('PATCH', `/members/${ids.other}`, { language: 'fr' });
    for (const path of [`/offer/${ids.offer}`, '/join/instagram', '/gift', `/polls/${ids.poll}`, '/links', '/posts', '/'])
      await french(await get(path, other));
    expect(await french(await get('/join', other))).toContain('name="language" value="fr"');
  });

  it('a gift bought on a French page sends its receipt and its link in French', async () => {
    const res = await post('/gift', { tier: ids.tier, months: '3', recipient_email: 'ami@example.com', message: 'Bonne lecture' }, other);
    expect(res.status).toBe(303);
    const sessionId = res.headers.get('location')!.split('/').pop()!;
    // Stripe's payment page names the gift in the buyer's language too.
    expect(JSON.stringify(stripe.objects.get(sessionId))).toContain('Cadeau : 3 mois d’adhésion Soutien');
    await stripe.completeCheckout(sessionId);
    const receipt = await mailTo('lou@example.com', 'Votre cadeau de 3 mois de Soutien');
    expect(englishLeftovers((receipt.text ?? '').replace(/https?:\/\/\S+/g, ' '), 'fr', ALLOWED)).toEqual([]);
    const link = await mailTo('ami@example.com', 'Un cadeau pour vous : 3 mois de Soutien');
    expect(link.text ?? '').toContain('Bonne lecture');
    expect(englishLeftovers((link.text ?? '').replace(/https?:\/\/\S+/g, ' '), 'fr', ALLOWED)).toEqual([]);
  });
});

/** The newest email to an address whose subject is exactly this (the local outbox: no mail provider is set). */
function mailTo(address: string, subject: string) {
  return waitFor(
    () =>
      t.db
        .selectFrom('outbox')
        .select(['subject', 'text'])
        .where(sql<boolean>`${address} = any(to_addresses)`)
        .where('subject', '=', subject)
        .orderBy('id', 'desc')
        .executeTakeFirst(),
    { what: `an email "${subject}" to ${address}`, timeout: 20_000 },
  );
}
