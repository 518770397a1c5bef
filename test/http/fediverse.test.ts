import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { findConversationPost, postComment } from '../../src/domain/community/comments.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Two real Hearth sites on loopback, each its own process and database, federating with each
 * other through Fedify: B's actor follows A; A publishes a public and a gated post; B receives
 * the public one whole and the gated one as its preview; B's staff reply lands in A's review
 * queue and, approved, shows under A's post; A's staff answer reaches B. A forged inbox post is 401.
 */
interface Site {
  t: TestDatabase;
  server: RunningServer;
  staffId: string;
  headers: Record<string, string>;
  host: string;
}

let A: Site;
let B: Site;

async function site(): Promise<Site> {
  const t = await createTestDatabase();
  const staff = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  const token = (await createApiToken(t.db, staff.id, 'test')).token;
  const server = await startServer({ databaseUrl: t.url, env: { FEDERATION_ALLOW_PRIVATE: '1' } });
  return {
    t,
    server,
    staffId: staff.id,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    host: new URL(server.url).host,
  };
}

async function api(s: Site, method: string, path: string, body?: unknown) {
  const res = await fetch(s.server.url + path, { method, headers: s.headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  A = await site();
  B = await site();
}, 180_000);

afterAll(async () => {
  for (const s of [A, B]) {
    if (process.env.FEDIVERSE_TEST_LOG) (await import('node:fs')).appendFileSync(process.env.FEDIVERSE_TEST_LOG, s?.server.output() ?? '');
    await s?.server.stop();
    await s?.t.drop();
  }
});

describe('two Hearth sites on the fediverse', () => {
  it('is off by default: no WebFinger, no actor', async () => {
    const res = await fetch(`${A.server.url}/.well-known/webfinger?resource=acct:news@${A.host}`);
    expect(res.status).toBe(404);
  });

  it('turns on with PATCH /api/v1/site and answers WebFinger, the actor, NodeInfo', async () => {
    const on = await api(A, 'PATCH', '/api/v1/site', { name: 'Site A', fediverse: { enabled: true, handle: 'news' } });
    expect(on.status).toBe(200);
    expect(on.body.site.fediverse).toEqual({ enabled: true, handle: 'news', hold_replies: true });
    expect((await api(B, 'PATCH', '/api/v1/site', { name: 'Site B', fediverse: { enabled: true, handle: 'desk' } })).status).toBe(200);
    expect((await api(A, 'PATCH', '/api/v1/site', { fediverse: { handle: 'Not A Handle!' } })).status).toBe(400);

    const wf = await fetch(`${A.server.url}/.well-known/webfinger?resource=acct:news@${A.host}`);
    expect(wf.status).toBe(200);
    expect(wf.headers.get('content-type')).toContain('application/jrd+json');
    const jrd = (await wf.json()) as { subject: string; links: Array<{ rel: string; type?: string; href?: string }> };
    expect(jrd.subject).toBe(`acct:news@${A.host}`);
    const self = jrd.links.find((l) => l.rel === 'self');
    expect(self).toMatchObject({ type: 'application/activity+json', href: `${A.server.url}/ap/actor/site` });

    const actorRes = await fetch(self!.href!, { headers: { accept: 'application/activity+json' } });
    expect(actorRes.status).toBe(200);
    expect(actorRes.headers.get('content-type')).toContain('application/activity+json');
    const actor = (await actorRes.json()) as Record<string, any>;
    // ActivityStreams 2.0 / ActivityPub actor shape.
    expect(actor['@context']).toEqual(expect.arrayContaining(['https://www.w3.org/ns/activitystreams']));
    expect(actor).toMatchObject({
      id: `${A.server.url}/ap/actor/site`,
      type: 'Organization',
      preferredUsername: 'news',
      name: 'Site A',
      inbox: `${A.server.url}/ap/actor/site/inbox`,
      outbox: `${A.server.url}/ap/actor/site/outbox`,
      followers: `${A.server.url}/ap/actor/site/followers`,
      url: `${A.server.url}/join/fediverse`,
      endpoints: { sharedInbox: `${A.server.url}/ap/inbox` },
    });
    expect(actor.publicKey.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    // The key pair is made once and kept.
    const again = (await (await fetch(self!.href!, { headers: { accept: 'application/activity+json' } })).json()) as Record<string, any>;
    expect(again.publicKey.publicKeyPem).toBe(actor.publicKey.publicKeyPem);

    const ni = await fetch(`${A.server.url}/.well-known/nodeinfo`);
    expect(ni.status).toBe(200);
    const links = (await ni.json()) as { links: Array<{ href: string }> };
    const doc = (await (await fetch(links.links[0]!.href)).json()) as Record<string, any>;
    expect(doc.software.name).toBe('hearth');
    expect(doc.protocols).toContain('activitypub');
  });

  it('refuses an unsigned or forged inbox post with 401 and writes nothing', async () => {
    const forged = {
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${B.server.url}/ap/forged/1`,
      type: 'Follow',
      actor: `${B.server.url}/ap/actor/site`,
      object: `${A.server.url}/ap/actor/site`,
    };
    for (const path of ['/ap/inbox', '/ap/actor/site/inbox']) {
      const res = await fetch(A.server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/activity+json' },
        body: JSON.stringify(forged),
      });
      expect(res.status).toBe(401);
      const bad = await fetch(A.server.url + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/activity+json',
          signature: `keyId="${B.server.url}/ap/actor/site#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="Zm9yZ2Vk"`,
          date: new Date().toUTCString(),
        },
        body: JSON.stringify(forged),
      });
      expect(bad.status).toBe(401);
    }
    const n = await A.t.db.selectFrom('fediverse_followers').select('id').execute();
    expect(n).toHaveLength(0);
  });

  it('B follows A; A accepts and lists B as a follower', async () => {
    const res = await api(B, 'POST', '/api/v1/fediverse/following', { account: `news@${A.host}` });
    expect(res.status).toBe(202);
    await until('A to store B as a follower', async () => (await api(A, 'GET', '/api/v1/fediverse')).body.followers.length === 1);
    const a = await api(A, 'GET', '/api/v1/fediverse');
    expect(a.body.followers[0]).toMatchObject({ handle: `@desk@${B.host}`, server: B.host });
    await until('B to see the Accept', async () => (await api(B, 'GET', '/api/v1/fediverse')).body.following[0]?.accepted);
  });

  let publicPostId: string;
  let gatedPostId: string;
  it('A publishes a public post and a gated one: B gets the first whole, the second as its preview', async () => {
    const pub = await api(A, 'POST', '/api/v1/posts', {
      title: 'Open letter',
      markdown: 'The public opening.\n\nThe whole public text, paragraph two.',
      visibility: 'public',
      status: 'published',
      tags: ['letters'],
    });
    expect(pub.status).toBe(201);
    publicPostId = pub.body.post.id;
    const gated = await api(A, 'POST', '/api/v1/posts', {
      title: 'Members letter',
      markdown: 'The teaser anyone may read.\n\n<!--more-->\n\nSECRET MEMBERS TEXT.',
      visibility: 'members',
      status: 'published',
    });
    expect(gated.status).toBe(201);
    gatedPostId = gated.body.post.id;
    const received = await until('B to receive both posts', async () => {
      const r = await api(B, 'GET', '/api/v1/fediverse/received');
      return r.body.received.length >= 2 ? (r.body.received as Array<Record<string, any>>) : undefined;
    });
    const open = received.find((r) => r.name === 'Open letter')!;
    const members = received.find((r) => r.name === 'Members letter')!;
    expect(open.type).toBe('Article');
    expect(open.content).toContain('The whole public text, paragraph two.');
    expect(open.url).toBe(`${A.server.url}/posts/open-letter`);
    expect(members.content).toContain('The teaser anyone may read.');
    expect(members.content).not.toContain('SECRET MEMBERS TEXT');
    expect(JSON.stringify(received)).not.toContain('SECRET');
    // The Article fetched by its id is the preview too.
    const fetched = await fetch(members.id, { headers: { accept: 'application/activity+json' } });
    expect(await fetched.text()).not.toContain('SECRET');
  });

  it("B's staff reply lands in A's review queue; approved, it shows on A's post; A's answer reaches B", async () => {
    const article = `${A.server.url}/ap/posts/${publicPostId}`;
    const reply = await api(B, 'POST', '/api/v1/fediverse/replies', {
      in_reply_to: article,
      content: 'A thoughtful reply from **B**. <script>alert(1)</script>',
    });
    expect(reply.status).toBe(202);
    const held = await until('the reply to be held on A', async () =>
      A.t.db.selectFrom('comments').selectAll().where('remote_actor', 'is not', null).executeTakeFirst(),
    );
    expect(held).toMatchObject({ status: 'held', hold_reason: 'fediverse', remote_handle: `@desk@${B.host}`, post_id: publicPostId });
    const page1 = await (await fetch(`${A.server.url}/posts/open-letter`)).text();
    expect(page1).not.toContain('A thoughtful reply');

    const approve = await api(A, 'PATCH', `/api/v1/comments/${held.id}`, { status: 'published' });
    expect(approve.status).toBe(200);
    const page2 = await (await fetch(`${A.server.url}/posts/open-letter`)).text();
    expect(page2).toContain('A thoughtful reply from');
    expect(page2).toContain(`@desk@${B.host}`);
    expect(page2).not.toContain('<script>alert(1)');

    const post = (await findConversationPost(A.t.db, 'open-letter'))!;
    await postComment(
      A.t.db,
      { secret: TEST_SECRET, siteUrl: A.server.url } as never,
      { kind: 'staff', id: A.staffId, role: 'owner', name: 'Owner' },
      post,
      { body: 'Thank you, B: the answer from A.', parentId: held.id, clientIp: '127.0.0.1' },
    );
    const answer = await until('B to receive the answer', async () => {
      const r = await api(B, 'GET', '/api/v1/fediverse/received');
      return (r.body.received as Array<Record<string, any>>).find((x) => x.content.includes('the answer from A'));
    });
    expect(answer.in_reply_to).toBe(reply.body.reply.id);
  });

  it('an edit reaches B as an Update, unpublishing as a Delete', async () => {
    const current = await api(A, 'GET', `/api/v1/posts/${gatedPostId}`);
    const edited = await api(A, 'PATCH', `/api/v1/posts/${gatedPostId}`, {
      markdown: 'A new teaser anyone may read.\n\n<!--more-->\n\nSECRET MEMBERS TEXT, edited.',
      revision: current.body.post.revision,
    });
    expect(edited.status).toBe(200);
    const article = `${A.server.url}/ap/posts/${gatedPostId}`;
    await until('B to get the Update', async () => {
      const r = await api(B, 'GET', '/api/v1/fediverse/received');
      return (r.body.received as Array<Record<string, any>>).find((x) => x.id === article && x.content.includes('A new teaser'));
    });
    expect(JSON.stringify((await api(B, 'GET', '/api/v1/fediverse/received')).body)).not.toContain('SECRET');
    const draft = await api(A, 'PATCH', `/api/v1/posts/${gatedPostId}`, { status: 'draft', revision: edited.body.post.revision });
    expect(draft.status).toBe(200);
    await until('B to get the Delete', async () => {
      const r = await api(B, 'GET', '/api/v1/fediverse/received');
      return !(r.body.received as Array<Record<string, any>>).some((x) => x.id === article);
    });
    // Each activity went to B's shared inbox once.
    const deliveries = await A.t.db.selectFrom('fediverse_deliveries').select(['activity_id', 'inbox', 'status']).execute();
    expect(new Set(deliveries.map((d) => `${d.activity_id} ${d.inbox}`)).size).toBe(deliveries.length);
    expect(deliveries.filter((d) => d.inbox === `${B.server.url}/ap/inbox`).length).toBeGreaterThanOrEqual(4);
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
  });

  it('a signed Like from B counts as a fediverse engagement event on A, not as a member', async () => {
    const { signRequest } = await import('@fedify/fedify');
    const { siteKeyPairs } = await import('../../src/domain/fediverse/keys.ts');
    const [rsa] = await siteKeyPairs(B.t.db);
    const like = {
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${B.server.url}/ap/likes/1`,
      type: 'Like',
      actor: `${B.server.url}/ap/actor/site`,
      object: `${A.server.url}/ap/posts/${publicPostId}`,
    };
    const members = await A.t.db.selectFrom('members').select('id').execute();
    const signed = await signRequest(
      new Request(`${A.server.url}/ap/inbox`, {
        method: 'POST',
        headers: { 'content-type': 'application/activity+json' },
        body: JSON.stringify(like),
      }),
      rsa!.privateKey,
      new URL(`${B.server.url}/ap/actor/site#main-key`),
    );
    const res = await fetch(signed);
    expect(res.status).toBe(202);
    const event = await until('the like event', async () =>
      A.t.db.selectFrom('events').selectAll().where('type', '=', 'fediverse_like').executeTakeFirst(),
    );
    expect(event.member_id).toBeNull();
    expect(event.data).toMatchObject({ post_id: publicPostId, source: 'fediverse', server: B.host });
    expect(await A.t.db.selectFrom('members').select('id').execute()).toEqual(members);
  });

  it("recommendations: listed after subscribing and in Ghost's format; readers counted both ways, nothing else shared", async () => {
    const created = await api(A, 'POST', '/api/v1/recommendations', { url: `${B.server.url}/`, name: 'Site B', reason: 'Good letters' });
    expect(created.status).toBe(201);
    expect((await api(A, 'POST', '/api/v1/recommendations', { url: 'javascript:alert(1)', name: 'x' })).status).toBe(400);
    expect((await api(B, 'POST', '/api/v1/recommendations', { url: `${A.server.url}/`, name: 'Site A' })).status).toBe(201);

    const wk = (await (await fetch(`${A.server.url}/.well-known/recommendations.json`)).json()) as Array<Record<string, string>>;
    expect(wk).toEqual([{ url: `${B.server.url}/`, created_at: expect.any(String), updated_at: expect.any(String) }]);
    const page = await (await fetch(`${A.server.url}/subscribe/check-inbox`)).text();
    expect(page).toContain('Site B');
    expect(page).toContain(`/recommendations/${created.body.recommendation.id}/go`);

    const go = await fetch(`${A.server.url}/recommendations/${created.body.recommendation.id}/go`, { redirect: 'manual' });
    expect(go.status).toBe(303);
    const to = new URL(go.headers.get('location')!);
    expect(to.origin).toBe(B.server.url);
    expect(to.searchParams.get('ref')).toBe(A.host);
    expect(to.searchParams.get('utm_medium')).toBe('recommendation');
    // The reader subscribes on B with what the link carried.
    const { createNewsletter } = await import('../../src/domain/newsletters/newsletters.ts');
    await createNewsletter(B.t.db, { slug: 'letters', name: 'Letters', default: true });
    const sub = await fetch(`${B.server.url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ email: 'reader@example.com', utm_source: A.host, utm_medium: 'recommendation' }),
    });
    expect(sub.status).toBe(202);
    const onA = await api(A, 'GET', '/api/v1/recommendations');
    expect(onA.body.recommendations[0]).toMatchObject({ name: 'Site B', readers_sent: 1 });
    const onB = await api(B, 'GET', '/api/v1/recommendations');
    expect(onB.body.recommendations[0]).toMatchObject({ name: 'Site A', readers_received: 1 });
    expect(JSON.stringify(onB.body)).not.toContain('reader@example.com');
  });
});
