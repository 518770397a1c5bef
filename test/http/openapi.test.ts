import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { refreshStats } from '../../src/domain/stats/rollup.ts';
import { openApiDocument } from '../../src/web/api/openapi.ts';
import type { ApiDeps, ApiRoute } from '../../src/web/api/route.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/**
 * The OpenAPI document is the contract: it is a valid OpenAPI 3.1 document, and every operation
 * it lists is called here (in process: the route's own handler with a real Request on a real
 * database, no server) and its answer validated against the document's schema for that status.
 * A route whose JSON drifts from its zod schema (a field added, renamed, retyped or dropped)
 * fails here; so does a documented operation this test does not call.
 */
let t: TestDatabase;
let stripe: StripeTestServer;
let deps: ApiDeps;
const doc = openApiDocument() as unknown as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
};
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestDatabase();
  stripe = await startStripeTestServer();
  await seedAudience(t.db, 12);
  await sql`update members set utm_source = 'ig', ref = null, referrer = 'instagram.com' where id in (select id from members order by id limit 3)`.execute(
    t.db,
  );
  await sql`insert into labels (name) values ('vip')`.execute(t.db);
  await sql`insert into member_labels (member_id, label_id) select m.id, (select l.id from labels l where l.name = 'vip') from members m order by m.id limit 2`.execute(
    t.db,
  );
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  deps = {
    db: t.db,
    siteUrl: 'http://hearth.test',
    stripe: new Stripe('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http' }),
    staff: { id: owner.id, email: owner.email, name: owner.name, role: owner.role },
    keys: siteKeys({ appSecret: TEST_SECRET, siteUrl: 'http://hearth.test' }),
    sendRateLimit: 2,
  };
  ids.post = await makePost(t.db);
  ids.member = (await t.db.selectFrom('members').select('id').orderBy('id').executeTakeFirstOrThrow()).id;
  // A send that went out, with a link and clicks, so the stats have rows to show.
  const sent = await sql<{
    id: string;
  }>`insert into sends (post_id, status, segment, recipients, delivered, prepared_at) values (${ids.post}, 'sent', ${JSON.stringify({ newsletters: [{ id: '1', slug: 'weekly', name: 'Weekly' }], tiers: [], labels: [], platforms: [], engagement: 'any' })}, 12, 12, now() - interval '1 day') returning id`.execute(
    t.db,
  );
  ids.sent = sent.rows[0]!.id;
  await sql`insert into send_batches (send_id, batch, first_member, last_member, size, status, posted_count, error, attempts) select ${ids.sent}, 0, min(id), max(id), 12, 'posted', 11, 'One address refused', 1 from members`.execute(
    t.db,
  );
  await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at) select ${ids.sent}, id, email, 'a', 'posted', now() - interval '1 day' from members`.execute(
    t.db,
  );
  await sql`insert into send_links (send_id, link, url) values (${ids.sent}, 1, 'https://example.com/a')`.execute(t.db);
  await sql`insert into engagement_events (occurred_at, kind, member_id, send_id, link, machine) select now() - interval '2 hours', 'click', id, ${ids.sent}, 1, false from members order by id limit 4`.execute(
    t.db,
  );
  await sql`insert into engagement_events (occurred_at, kind, member_id, post_id, machine) select now() - interval '3 hours', 'read', id, ${ids.post}, false from members order by id limit 3`.execute(
    t.db,
  );
  const comments = await sql<{
    id: string;
  }>`insert into comments (post_id, member_id, body, status, hold_reason, question, announced) select ${ids.post}, id, 'A question about **beans**?', 'held', 'first_comment', true, true from members order by id limit 3 returning id`.execute(
    t.db,
  );
  ids.comment = comments.rows[0]!.id;
  ids.comment2 = comments.rows[1]!.id;
  await refreshStats(t.db);
});

afterAll(async () => {
  await stripe?.close();
  await t?.drop();
});

/** The route module of a documented path: `/api/v1/members/{id}` → src/pages/api/v1/members/[id].ts (or …/index.ts). */
async function routeOf(path: string, method: string): Promise<ApiRoute> {
  const base = `../../src/pages${path.replace(/\{(\w+)\}/g, '[$1]')}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`${base}.ts`)) as Record<string, unknown>;
  } catch {
    mod = (await import(`${base}/index.ts`)) as Record<string, unknown>;
  }
  const route = mod[method.toUpperCase()] as ApiRoute | undefined;
  if (!route) throw new Error(`${method.toUpperCase()} ${path}: the route file has no such export`);
  return route;
}

type Call = {
  path: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  url: string;
  body?: unknown;
  form?: FormData;
  status: number;
};

/** Every documented operation at least once, with a real answer; some error answers too. */
const calls = (): Call[] => [
  { method: 'get', path: '/api/v1/me', url: '/api/v1/me', status: 200 },
  { method: 'get', path: '/api/v1/members', url: '/api/v1/members?limit=5', status: 200 },
  { method: 'get', path: '/api/v1/members', url: '/api/v1/members?query=reader1&limit=3', status: 200 },
  { method: 'get', path: '/api/v1/members', url: '/api/v1/members?status=sleeping', status: 400 },
  {
    method: 'post',
    path: '/api/v1/members',
    url: '/api/v1/members',
    body: { email: 'new@example.com', name: 'New', newsletters: ['weekly'], labels: ['vip'] },
    status: 201,
  },
  { method: 'post', path: '/api/v1/members', url: '/api/v1/members', body: { email: 'x@example.com', bogus: 1 }, status: 400 },
  { method: 'get', path: '/api/v1/members/count', url: '/api/v1/members/count?platform=instagram', status: 200 },
  { method: 'get', path: '/api/v1/members/{id}', url: `/api/v1/members/${ids.member}`, status: 200 },
  { method: 'get', path: '/api/v1/members/{id}', url: '/api/v1/members/999999', status: 404 },
  {
    method: 'patch',
    path: '/api/v1/members/{id}',
    url: `/api/v1/members/${ids.member}`,
    body: { name: 'Renamed', labels: ['vip', 'early'] },
    status: 200,
  },
  { method: 'delete', path: '/api/v1/members/{id}', url: '/api/v1/members/MEMBER_TO_DELETE', status: 204 },
  { method: 'post', path: '/api/v1/imports', url: '/api/v1/imports', form: csvForm(), status: 202 },
  { method: 'get', path: '/api/v1/imports/{id}', url: '/api/v1/imports/IMPORT', status: 200 },
  { method: 'get', path: '/api/v1/imports/{id}/changes', url: '/api/v1/imports/IMPORT/changes', status: 200 },
  // Already queued: starting it again is a conflict.
  { method: 'post', path: '/api/v1/imports/{id}/start', url: '/api/v1/imports/IMPORT/start', body: {}, status: 409 },
  {
    method: 'post',
    path: '/api/v1/posts',
    url: '/api/v1/posts',
    body: { title: 'Via the API', markdown: 'Hello.', visibility: { tiers: ['supporter'] }, tags: ['news'] },
    status: 201,
  },
  { method: 'get', path: '/api/v1/posts', url: '/api/v1/posts?limit=1&status=published', status: 200 },
  { method: 'get', path: '/api/v1/posts', url: '/api/v1/posts?visibility=secret', status: 400 },
  { method: 'get', path: '/api/v1/posts/{id}', url: `/api/v1/posts/${ids.post}`, status: 200 },
  { method: 'patch', path: '/api/v1/posts/{id}', url: `/api/v1/posts/${ids.post}`, body: { title: 'Renamed', revision: 1 }, status: 200 },
  { method: 'patch', path: '/api/v1/posts/{id}', url: `/api/v1/posts/${ids.post}`, body: { title: 'Stale', revision: 1 }, status: 409 },
  { method: 'get', path: '/api/v1/sends', url: '/api/v1/sends?limit=1', status: 200 },
  {
    method: 'post',
    path: '/api/v1/sends',
    url: '/api/v1/sends',
    body: {
      post_id: ids.post,
      segment: { newsletters: ['weekly'] },
      draft: true,
      subjects: ['Our new roast', 'Smoky, sweet, yours'],
      test: { sample: 0.5, wait: 'PT2H' },
    },
    status: 201,
  },
  {
    method: 'post',
    path: '/api/v1/sends/count',
    url: '/api/v1/sends/count',
    body: { post_id: ids.post, segment: { newsletters: ['weekly'], platforms: ['instagram'] } },
    status: 200,
  },
  { method: 'get', path: '/api/v1/sends/{id}', url: `/api/v1/sends/${ids.sent}`, status: 200 },
  { method: 'get', path: '/api/v1/sends/{id}', url: `/api/v1/sends/${ids.sent}?report=1`, status: 200 },
  { method: 'post', path: '/api/v1/sends/{id}/schedule', url: '/api/v1/sends/DRAFT/schedule', body: { undo_seconds: 600 }, status: 200 },
  { method: 'post', path: '/api/v1/sends/{id}/undo', url: '/api/v1/sends/DRAFT/undo', status: 200 },
  { method: 'post', path: '/api/v1/sends/{id}/pause', url: '/api/v1/sends/DRAFT/pause', status: 409 },
  { method: 'post', path: '/api/v1/sends/{id}/resume', url: '/api/v1/sends/DRAFT/resume', status: 409 },
  { method: 'post', path: '/api/v1/sends/{id}/retry', url: '/api/v1/sends/DRAFT/retry', status: 409 },
  { method: 'post', path: '/api/v1/sends/{id}/winner', url: '/api/v1/sends/DRAFT/winner', body: { subject_index: 1 }, status: 409 },
  { method: 'post', path: '/api/v1/sends/{id}/cancel', url: '/api/v1/sends/DRAFT/cancel', status: 200 },
  { method: 'post', path: '/api/v1/sends/{id}/winner', url: '/api/v1/sends/DRAFT/winner', body: { subject_index: 9 }, status: 400 },
  { method: 'get', path: '/api/v1/newsletters', url: '/api/v1/newsletters', status: 200 },
  {
    method: 'post',
    path: '/api/v1/newsletters',
    url: '/api/v1/newsletters',
    body: { slug: 'letters', name: 'Letters', reply_to: 'editor@example.com', sender_name: 'The Editor' },
    status: 201,
  },
  { method: 'post', path: '/api/v1/newsletters', url: '/api/v1/newsletters', body: { slug: 'letters', name: 'Again' }, status: 409 },
  { method: 'post', path: '/api/v1/newsletters', url: '/api/v1/newsletters', body: { slug: 'Bad Slug', name: 'Bad' }, status: 400 },
  { method: 'get', path: '/api/v1/newsletters/{slug}', url: '/api/v1/newsletters/letters', status: 200 },
  { method: 'get', path: '/api/v1/newsletters/{slug}', url: '/api/v1/newsletters/nope', status: 404 },
  {
    method: 'patch',
    path: '/api/v1/newsletters/{slug}',
    url: '/api/v1/newsletters/letters',
    body: { description: 'Now and then', position: 5 },
    status: 200,
  },
  { method: 'delete', path: '/api/v1/newsletters/{slug}', url: '/api/v1/newsletters/letters', status: 200 },
  { method: 'get', path: '/api/v1/newsletters', url: '/api/v1/newsletters?archived=1', status: 200 },
  { method: 'get', path: '/api/v1/tiers', url: '/api/v1/tiers', status: 200 },
  {
    method: 'post',
    path: '/api/v1/tiers',
    url: '/api/v1/tiers',
    body: { name: 'Patron', monthly_amount: 1500, yearly_amount: 15000, currency: 'EUR', trial_days: 7 },
    status: 201,
  },
  {
    method: 'post',
    path: '/api/v1/offers',
    url: '/api/v1/offers',
    body: { tier: 'patron', name: 'Spring', percent_off: 50, duration: 'repeating', duration_months: 3, interval: 'month' },
    status: 201,
  },
  // An amount larger than the tier's price: 400, nothing made in Stripe.
  {
    method: 'post',
    path: '/api/v1/offers',
    url: '/api/v1/offers',
    body: { tier: 'patron', name: 'Bad', amount_off: 999999, duration: 'once' },
    status: 400,
  },
  { method: 'get', path: '/api/v1/offers', url: '/api/v1/offers', status: 200 },
  { method: 'get', path: '/api/v1/offers/{id}', url: '/api/v1/offers/OFFER', status: 200 },
  { method: 'get', path: '/api/v1/offers/{id}', url: '/api/v1/offers/999999', status: 404 },
  { method: 'patch', path: '/api/v1/offers/{id}', url: '/api/v1/offers/OFFER', body: { name: 'Spring sale' }, status: 200 },
  { method: 'delete', path: '/api/v1/offers/{id}', url: '/api/v1/offers/OFFER', status: 200 },
  { method: 'get', path: '/api/v1/site', url: '/api/v1/site', status: 200 },
  {
    method: 'patch',
    path: '/api/v1/site',
    url: '/api/v1/site',
    body: { time_zone: 'Europe/Paris', reply_to: 'hello@example.com', postal_address: '1 Rue de la Paix, Paris' },
    status: 200,
  },
  { method: 'patch', path: '/api/v1/site', url: '/api/v1/site', body: { time_zone: 'Mars/Olympus' }, status: 400 },
  { method: 'post', path: '/api/v1/billing/sync', url: '/api/v1/billing/sync', status: 202 },
  { method: 'get', path: '/api/v1/billing/sync/{id}', url: '/api/v1/billing/sync/SYNC', status: 200 },
  { method: 'get', path: '/api/v1/billing/sync/{id}', url: '/api/v1/billing/sync/999999', status: 404 },
  { method: 'get', path: '/api/v1/comments', url: '/api/v1/comments?status=held&limit=2', status: 200 },
  { method: 'get', path: '/api/v1/comments', url: '/api/v1/comments?after=garbage', status: 400 },
  { method: 'get', path: '/api/v1/comments/{id}', url: `/api/v1/comments/${ids.comment}`, status: 200 },
  { method: 'patch', path: '/api/v1/comments/{id}', url: `/api/v1/comments/${ids.comment}`, body: { status: 'published' }, status: 200 },
  { method: 'delete', path: '/api/v1/comments/{id}', url: `/api/v1/comments/${ids.comment2}`, status: 204 },
  { method: 'get', path: '/api/v1/stats/overview', url: '/api/v1/stats/overview?days=30', status: 200 },
  { method: 'get', path: '/api/v1/stats/sources', url: '/api/v1/stats/sources', status: 200 },
  { method: 'get', path: '/api/v1/stats/cohorts', url: '/api/v1/stats/cohorts', status: 200 },
  { method: 'get', path: '/api/v1/stats/answers', url: '/api/v1/stats/answers', status: 200 },
  { method: 'get', path: '/api/v1/stats/sends/{id}', url: `/api/v1/stats/sends/${ids.sent}`, status: 200 },
  { method: 'get', path: '/api/v1/stats/posts/{id}', url: `/api/v1/stats/posts/${ids.post}`, status: 200 },
  { method: 'get', path: '/api/v1/stats/members/{id}', url: `/api/v1/stats/members/${ids.member}`, status: 200 },
  {
    method: 'post',
    path: '/api/v1/webhooks',
    url: '/api/v1/webhooks',
    body: { url: 'https://93.184.215.14/hook', events: ['member.created'] },
    status: 201,
  },
  {
    method: 'post',
    path: '/api/v1/webhooks',
    url: '/api/v1/webhooks',
    body: { url: 'http://127.0.0.1/hook', events: ['member.created'] },
    status: 400,
  },
  { method: 'get', path: '/api/v1/webhooks', url: '/api/v1/webhooks', status: 200 },
  { method: 'get', path: '/api/v1/webhooks/{id}/deliveries', url: '/api/v1/webhooks/WEBHOOK/deliveries', status: 200 },
  {
    method: 'post',
    path: '/api/v1/webhooks/{id}/deliveries/{delivery}/replay',
    url: '/api/v1/webhooks/WEBHOOK/deliveries/999999/replay',
    status: 404,
  },
  { method: 'delete', path: '/api/v1/webhooks/{id}', url: '/api/v1/webhooks/WEBHOOK', status: 204 },
  {
    method: 'post',
    path: '/api/v1/fields',
    url: '/api/v1/fields',
    body: { key: 'city', label: 'City', type: 'choice', options: ['Paris', 'Lyon'], member_editable: true },
    status: 201,
  },
  { method: 'post', path: '/api/v1/fields', url: '/api/v1/fields', body: { key: 'Bad Key', label: 'Bad', type: 'text' }, status: 400 },
  { method: 'get', path: '/api/v1/fields', url: '/api/v1/fields', status: 200 },
  { method: 'get', path: '/api/v1/fields/{key}', url: '/api/v1/fields/city', status: 200 },
  { method: 'get', path: '/api/v1/fields/{key}', url: '/api/v1/fields/nope', status: 404 },
  { method: 'patch', path: '/api/v1/fields/{key}', url: '/api/v1/fields/city', body: { label: 'Home city', order: 3 }, status: 200 },
  { method: 'delete', path: '/api/v1/fields/{key}', url: '/api/v1/fields/city', status: 200 },
  {
    method: 'post',
    path: '/api/v1/polls',
    url: '/api/v1/polls',
    body: { question: 'Tea or coffee?', answers: ['Tea', 'Coffee'] },
    status: 201,
  },
  { method: 'post', path: '/api/v1/polls', url: '/api/v1/polls', body: { question: 'Only one?', answers: ['Yes'] }, status: 400 },
  { method: 'get', path: '/api/v1/polls', url: '/api/v1/polls?limit=5', status: 200 },
  { method: 'get', path: '/api/v1/polls/{id}', url: '/api/v1/polls/POLL', status: 200 },
  { method: 'get', path: '/api/v1/polls/{id}', url: '/api/v1/polls/999999', status: 404 },
  { method: 'patch', path: '/api/v1/polls/{id}', url: '/api/v1/polls/POLL', body: { status: 'closed' }, status: 200 },
  {
    method: 'post',
    path: '/api/v1/automations',
    url: '/api/v1/automations',
    body: {
      name: 'Welcome',
      trigger: { type: 'subscription_confirmed', platforms: ['instagram'] },
      steps: [
        { type: 'email', subject: 'Welcome, {{name}}', markdown: 'Hello from the team.', preheader: 'Glad you came' },
        { type: 'wait', duration: 'P2D' },
        { type: 'condition', if: { label: 'vip' }, then: 'continue', else: 'exit' },
        { type: 'label', add: 'welcomed' },
      ],
      status: 'live',
    },
    status: 201,
  },
  {
    method: 'post',
    path: '/api/v1/automations',
    url: '/api/v1/automations',
    body: { name: 'Loop', trigger: { type: 'went_cold' }, steps: [{ type: 'wait', duration: 'P2Y' }] },
    status: 400,
  },
  { method: 'get', path: '/api/v1/automations', url: '/api/v1/automations', status: 200 },
  { method: 'get', path: '/api/v1/automations/{id}', url: '/api/v1/automations/AUTOMATION', status: 200 },
  { method: 'get', path: '/api/v1/automations/{id}', url: '/api/v1/automations/999999', status: 404 },
  {
    method: 'patch',
    path: '/api/v1/automations/{id}',
    url: '/api/v1/automations/AUTOMATION',
    body: { name: 'Welcome (Instagram)' },
    status: 200,
  },
  { method: 'post', path: '/api/v1/automations/{id}/pause', url: '/api/v1/automations/AUTOMATION/pause', status: 200 },
  { method: 'post', path: '/api/v1/automations/{id}/resume', url: '/api/v1/automations/AUTOMATION/resume', status: 200 },
  { method: 'get', path: '/api/v1/automations/{id}/stats', url: '/api/v1/automations/AUTOMATION/stats', status: 200 },
  {
    method: 'get',
    path: '/api/v1/automations/{id}/preview',
    url: `/api/v1/automations/AUTOMATION/preview?member=${ids.member}`,
    status: 200,
  },
  { method: 'get', path: '/api/v1/automations/{id}/preview', url: '/api/v1/automations/AUTOMATION/preview', status: 400 },
  { method: 'post', path: '/api/v1/automations/hold', url: '/api/v1/automations/hold', body: { held: true }, status: 200 },
  { method: 'get', path: '/api/v1/automations/hold', url: '/api/v1/automations/hold', status: 200 },
  { method: 'post', path: '/api/v1/automations/hold', url: '/api/v1/automations/hold', body: { held: 'yes' }, status: 400 },
  { method: 'delete', path: '/api/v1/automations/{id}', url: '/api/v1/automations/AUTOMATION', status: 204 },
  { method: 'get', path: '/api/v1/fediverse', url: '/api/v1/fediverse', status: 200 },
  { method: 'get', path: '/api/v1/fediverse/following', url: '/api/v1/fediverse/following', status: 200 },
  // The fediverse is off here: refused before any request leaves.
  {
    method: 'post',
    path: '/api/v1/fediverse/following',
    url: '/api/v1/fediverse/following',
    body: { account: 'news@social.example' },
    status: 400,
  },
  { method: 'get', path: '/api/v1/fediverse/received', url: '/api/v1/fediverse/received', status: 200 },
  {
    method: 'post',
    path: '/api/v1/fediverse/replies',
    url: '/api/v1/fediverse/replies',
    body: { in_reply_to: 'https://social.example/notes/1', content: 'Thanks!' },
    status: 400,
  },
  {
    method: 'post',
    path: '/api/v1/fediverse/blocks',
    url: '/api/v1/fediverse/blocks',
    body: { domain: 'spam.example', reason: 'spam' },
    status: 201,
  },
  { method: 'post', path: '/api/v1/fediverse/blocks', url: '/api/v1/fediverse/blocks', body: { domain: 'not a server' }, status: 400 },
  { method: 'get', path: '/api/v1/fediverse/blocks', url: '/api/v1/fediverse/blocks', status: 200 },
  { method: 'delete', path: '/api/v1/fediverse/blocks/{domain}', url: '/api/v1/fediverse/blocks/spam.example', status: 204 },
  { method: 'delete', path: '/api/v1/fediverse/blocks/{domain}', url: '/api/v1/fediverse/blocks/spam.example', status: 404 },
  {
    method: 'post',
    path: '/api/v1/fediverse/bans',
    url: '/api/v1/fediverse/bans',
    body: { account: 'https://social.example/users/troll', reason: 'spam' },
    status: 201,
  },
  { method: 'post', path: '/api/v1/fediverse/bans', url: '/api/v1/fediverse/bans', body: { account: 'not an account' }, status: 400 },
  { method: 'get', path: '/api/v1/fediverse/bans', url: '/api/v1/fediverse/bans', status: 200 },
  { method: 'delete', path: '/api/v1/fediverse/bans/{id}', url: '/api/v1/fediverse/bans/FEDIBAN', status: 204 },
  { method: 'delete', path: '/api/v1/fediverse/bans/{id}', url: '/api/v1/fediverse/bans/999999', status: 404 },
  // A loopback address: the SSRF guard refuses to look at it, so its kind is "other", at once.
  {
    method: 'post',
    path: '/api/v1/recommendations',
    url: '/api/v1/recommendations',
    body: { url: 'http://127.0.0.1:9/letters', name: 'Local letters', reason: 'Good' },
    status: 201,
  },
  { method: 'post', path: '/api/v1/recommendations', url: '/api/v1/recommendations', body: { url: 'ftp://x', name: 'Bad' }, status: 400 },
  { method: 'get', path: '/api/v1/recommendations', url: '/api/v1/recommendations', status: 200 },
  { method: 'delete', path: '/api/v1/recommendations/{id}', url: '/api/v1/recommendations/RECOMMENDATION', status: 204 },
  { method: 'delete', path: '/api/v1/recommendations/{id}', url: '/api/v1/recommendations/999999', status: 404 },
  { method: 'get', path: '/api/v1/openapi.json', url: '/api/v1/openapi.json', status: 200 },
  { method: 'get', path: '/api/v1/emails', url: '/api/v1/emails', status: 200 },
  { method: 'get', path: '/api/v1/emails/{kind}', url: '/api/v1/emails/welcome?language=fr', status: 200 },
  { method: 'get', path: '/api/v1/emails/{kind}', url: '/api/v1/emails/no_such_email', status: 404 },
  {
    method: 'put',
    path: '/api/v1/emails/{kind}',
    url: '/api/v1/emails/welcome',
    body: { subject: 'Hello {{member.name}}', preheader: 'Welcome', markdown: 'Welcome to {{site.name}}.', language: 'fr' },
    status: 200,
  },
  {
    method: 'put',
    path: '/api/v1/emails/{kind}',
    url: '/api/v1/emails/welcome',
    body: { subject: 'Hello {{member.nme}}', preheader: '', markdown: 'Hi' },
    status: 400,
  },
  { method: 'get', path: '/api/v1/emails/{kind}/versions', url: '/api/v1/emails/welcome/versions?language=fr', status: 200 },
  { method: 'post', path: '/api/v1/emails/{kind}/test', url: '/api/v1/emails/welcome/test', body: { language: 'fr' }, status: 202 },
  { method: 'post', path: '/api/v1/emails/{kind}/reset', url: '/api/v1/emails/welcome/reset', body: { language: 'fr' }, status: 200 },
];

function csvForm(): FormData {
  const form = new FormData();
  form.set('file', new File(['email,name\nimported1@example.com,One\nnot-an-address,Two\n'], 'members.csv', { type: 'text/csv' }));
  form.set('newsletter', 'weekly');
  return form;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

/** The schema the document gives for one answer, as a validator (a JSON pointer into the document). */
function validatorFor(path: string, method: string, status: number) {
  const response = doc.paths[path]?.[method]?.responses[String(status)];
  expect(response, `${method.toUpperCase()} ${path} does not document a ${status}`).toBeDefined();
  if (!response!.content) return undefined;
  const pointer = ['paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema']
    .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
    .join('/');
  return ajv.compile({ $ref: `openapi.json#/${pointer}` });
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('matches the real answer of every documented operation', async () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const list = calls();
    expect(new Set(list.map((c) => `${c.method.toUpperCase()} ${c.path}`))).toEqual(new Set(documented));

    for (const call of list) {
      let url = call.url;
      if (url.includes('MEMBER_TO_DELETE'))
        url = url.replace(
          'MEMBER_TO_DELETE',
          (await t.db.selectFrom('members').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()).id,
        );
      if (url.includes('IMPORT')) url = url.replace('IMPORT', ids.import!);
      if (url.includes('DRAFT')) url = url.replace('DRAFT', ids.draft!);
      if (url.includes('SYNC')) url = url.replace('SYNC', ids.sync!);
      if (url.includes('WEBHOOK')) url = url.replace('WEBHOOK', ids.webhook!);
      if (url.includes('POLL')) url = url.replace('POLL', ids.poll!);
      if (url.includes('OFFER')) url = url.replace('OFFER', ids.offer!);
      if (url.includes('AUTOMATION')) url = url.replace('AUTOMATION', ids.automation!);
      if (url.includes('FEDIBAN')) url = url.replace('FEDIBAN', ids.fediban!);
      if (url.includes('RECOMMENDATION')) url = url.replace('RECOMMENDATION', ids.recommendation!);
      const init: RequestInit = { method: call.method.toUpperCase() };
      if (call.body !== undefined) init.body = JSON.stringify(call.body);
      if (call.form) init.body = call.form;
      const request = new Request(`http://hearth.test${url}`, init);
      const route = await routeOf(call.path, call.method);
      const params = matchParams(call.path, new URL(request.url).pathname);
      const res =
        call.path === '/api/v1/openapi.json'
          ? await (route as unknown as () => Promise<Response>)()
          : await route.handle(request, deps, params);
      const what = `${call.method.toUpperCase()} ${url}`;
      const text = await res.text();
      expect(res.status, `${what}: ${text}`).toBe(call.status);
      const validate = validatorFor(call.path, call.method, res.status);
      if (!validate) {
        expect(text, what).toBe('');
        continue;
      }
      const body = JSON.parse(text) as Record<string, Record<string, string>>;
      expect(validate(body), `${what}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 2000)}`).toBe(true);
      if (call.path === '/api/v1/imports') ids.import = body.import!.id!;
      if (call.path === '/api/v1/sends' && call.method === 'post') ids.draft = body.send!.id!;
      if (call.path === '/api/v1/billing/sync') ids.sync = body.sync!.id!;
      if (call.path === '/api/v1/webhooks' && res.status === 201) ids.webhook = body.webhook!.id!;
      if (call.path === '/api/v1/polls' && res.status === 201) ids.poll = body.poll!.id!;
      if (call.path === '/api/v1/offers' && res.status === 201) ids.offer = body.offer!.id!;
      if (call.path === '/api/v1/automations' && res.status === 201) ids.automation = body.automation!.id!;
      if (call.path === '/api/v1/fediverse/bans' && res.status === 201) ids.fediban = body.ban!.id!;
      if (call.path === '/api/v1/recommendations' && res.status === 201) ids.recommendation = body.recommendation!.id!;
    }
  });

  it('fails an answer that drifts from it', () => {
    const validate = validatorFor('/api/v1/members/{id}', 'get', 200)!;
    const member = {
      id: '1',
      email: 'a@example.com',
      name: null,
      status: 'active',
      tier: 'free',
      newsletters: [],
      labels: [],
      source: { platform: 'x', utm_source: null, utm_medium: null, utm_campaign: null, referrer: null, ref: null },
      referral_code: 'abc',
      referrals: 0,
      created_at: '2026-01-01T00:00:00.000Z',
      confirmed_at: null,
      fields: { city: 'Paris', age: 41, vip: true },
      language: null,
    };
    expect(validate({ member })).toBe(true);
    expect(validate({ member: { ...member, surprise: 1 } })).toBe(false);
    const { referrals: _, ...missing } = member;
    expect(validate({ member: missing })).toBe(false);
    expect(validate({ member: { ...member, created_at: 'yesterday' } })).toBe(false);
  });
});

/** `{id}` in a documented path, read back from a concrete one. */
function matchParams(template: string, pathname: string): Record<string, string> {
  const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '([^/]+)')}$`);
  const values = pattern.exec(pathname)?.slice(1) ?? [];
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}
