import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { sql } from 'kysely';
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
let earlyGatedId: string;

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
  it('is off by default: no WebFinger, no actor, no outbox', async () => {
    const res = await fetch(`${A.server.url}/.well-known/webfinger?resource=acct:news@${A.host}`);
    expect(res.status).toBe(404);
    // Published while the fediverse is off: the outbox shows them once it is on (backfill).
    const early = await api(A, 'POST', '/api/v1/posts', {
      title: 'Earlier letter',
      markdown: 'Written before the site was on the fediverse.',
      visibility: 'public',
      status: 'published',
    });
    expect(early.status).toBe(201);
    earlyGatedId = (
      await api(A, 'POST', '/api/v1/posts', {
        title: 'Earlier members letter',
        markdown: 'An earlier teaser.\n\n<!--more-->\n\nEARLIER SECRET TEXT.',
        visibility: 'paid',
        status: 'published',
      })
    ).body.post.id;
    const outbox = await fetch(`${A.server.url}/ap/actor/site/outbox`, { headers: { accept: 'application/activity+json' } });
    expect(outbox.status).toBe(404);
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

  it('once on, the outbox shows the posts already published: gated ones as their preview only', async () => {
    const headers = { accept: 'application/activity+json' };
    const outbox = await fetch(`${A.server.url}/ap/actor/site/outbox`, { headers });
    expect(outbox.status).toBe(200);
    expect(outbox.headers.get('content-type')).toContain('application/activity+json');
    const collection = (await outbox.json()) as Record<string, any>;
    expect(collection).toMatchObject({ type: 'OrderedCollection', totalItems: 2 });
    const page = (await (await fetch(collection.first, { headers })).json()) as Record<string, any>;
    expect(page.type).toBe('OrderedCollectionPage');
    const items = page.orderedItems as Array<Record<string, any>>;
    expect(items.map((i) => i.type)).toEqual(['Create', 'Create']);
    expect(items.map((i) => i.object.name).sort()).toEqual(['Earlier letter', 'Earlier members letter']);
    const gated = items.find((i) => i.object.name === 'Earlier members letter')!;
    expect(gated.object.content).toContain('An earlier teaser.');
    expect(JSON.stringify(page)).not.toContain('EARLIER SECRET');
    // Nor in the object endpoint.
    const object = await fetch(`${A.server.url}/ap/posts/${earlyGatedId}`, { headers });
    expect(object.status).toBe(200);
    const text = await object.text();
    expect(text).toContain('An earlier teaser.');
    expect(text).not.toContain('EARLIER SECRET');
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

  it('a dead server is retried with backoff, then dropped, and never holds up delivery to a live one', async () => {
    // Two dead servers: one that refuses connections, one that takes them and never answers.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const refusedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const refusedInbox = `http://127.0.0.1:${refusedPort}/inbox`;
      const silentInbox = `http://127.0.0.1:${silentPort}/inbox`;
      await A.t.db
        .insertInto('fediverse_followers')
        .values([
          {
            actor_uri: `http://127.0.0.1:${refusedPort}/actor`,
            handle: '@gone@dead',
            server: `127.0.0.1:${refusedPort}`,
            inbox: refusedInbox,
            shared_inbox: null,
          },
          {
            actor_uri: `http://127.0.0.1:${silentPort}/actor`,
            handle: '@mute@dead',
            server: `127.0.0.1:${silentPort}`,
            inbox: silentInbox,
            shared_inbox: null,
          },
        ])
        .execute();
      const post = await api(A, 'POST', '/api/v1/posts', {
        title: 'Into the void',
        markdown: 'Hello, anyone?',
        visibility: 'public',
        status: 'published',
      });
      expect(post.status).toBe(201);
      const rows = () =>
        A.t.db
          .selectFrom('fediverse_deliveries')
          .select(['id', 'inbox', 'status', 'attempts', 'last_error'])
          .where('activity_id', 'like', `${A.server.url}/ap/posts/${post.body.post.id}#create-%`)
          .execute();
      // B gets it while the silent server still holds its connection open.
      await until('the live delivery to B', async () =>
        (await rows()).find((d) => d.inbox === `${B.server.url}/ap/inbox` && d.status === 'delivered'),
      );
      expect(sockets.length).toBeGreaterThanOrEqual(1);
      expect((await rows()).find((d) => d.inbox === silentInbox)?.status).toBe('pending');

      // The refused one is retried, each time later than the last (graphile-worker's exponential backoff).
      // A job between attempts (not locked): its attempts so far and when it runs next (epoch seconds).
      const job = async (id: string) =>
        (
          await sql<{ attempts: number; locked: boolean; run_at: number; last_error: string | null }>`
            select attempts, locked_at is not null as locked, extract(epoch from run_at)::float8 as run_at, last_error
            from graphile_worker._private_jobs where key = ${`fediverse_delivery:${id}`}`.execute(A.t.db)
        ).rows[0];
      const dead = (await rows()).find((d) => d.inbox === refusedInbox)!;
      // Any failed attempt (a loaded machine may look only after the first retry), then a later one.
      const first = await until('a failed attempt', async () => {
        const j = await job(dead.id);
        return j && j.attempts >= 1 && !j.locked && j.last_error ? j : undefined;
      });
      const second = await until('a later failed attempt', async () => {
        const j = await job(dead.id);
        return j && j.attempts > first.attempts && !j.locked ? j : undefined;
      });
      // graphile-worker waits e^attempts seconds after a failure, and an attempt never starts before
      // its run_at: the next failure's run_at is at least e^(attempts + 1) s after this one's,
      // however slowly the machine runs the attempts (7.4 s after the first failure's, 20 s after the second's).
      expect(second.run_at - first.run_at).toBeGreaterThanOrEqual(Math.exp(first.attempts + 1) - 0.01);
      const row = (await rows()).find((d) => d.inbox === refusedInbox)!;
      expect(row).toMatchObject({ status: 'pending' });
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(row.last_error).toMatch(/ECONNREFUSED/);

      // The last attempt (brought forward: the real schedule spans a day and a half) drops the server.
      const { MAX_ATTEMPTS } = await import('../../src/domain/fediverse/delivery.ts');
      await A.t.db
        .updateTable('fediverse_deliveries')
        .set({ attempts: MAX_ATTEMPTS - 1 })
        .where('id', '=', dead.id)
        .execute();
      await sql`update graphile_worker._private_jobs set attempts = ${MAX_ATTEMPTS - 1}, run_at = now() where key = ${`fediverse_delivery:${dead.id}`}`.execute(
        A.t.db,
      );
      await until('the dead server to be dropped', async () =>
        (await rows()).find((d) => d.inbox === refusedInbox && d.status === 'failed'),
      );
      const followers = await A.t.db.selectFrom('fediverse_followers').select(['inbox', 'actor_uri']).execute();
      expect(followers.map((f) => f.inbox)).not.toContain(refusedInbox);
      expect(followers.map((f) => f.actor_uri)).toContain(`${B.server.url}/ap/actor/site`);
      expect(await job(dead.id)).toBeUndefined();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
      await A.t.db.deleteFrom('fediverse_followers').where('handle', 'in', ['@mute@dead', '@gone@dead']).execute();
    }
  }, 120_000);

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

  it("a banned account's replies are refused; lifted, they are taken again", async () => {
    const article = `${A.server.url}/ap/posts/${publicPostId}`;
    const following = (await api(A, 'GET', '/api/v1/fediverse')).body.followers as Array<{ actor: string }>;
    expect(following.map((f) => f.actor)).toContain(`${B.server.url}/ap/actor/site`);
    const banned = await api(A, 'POST', '/api/v1/fediverse/bans', { account: `@desk@${B.host}`, reason: 'spam' });
    expect(banned.status).toBe(201);
    expect(banned.body.ban).toMatchObject({ actor: `${B.server.url}/ap/actor/site`, handle: `@desk@${B.host}`, reason: 'spam' });
    expect((await api(A, 'POST', '/api/v1/fediverse/bans', { account: 'not an account' })).status).toBe(400);
    expect((await api(A, 'GET', '/api/v1/fediverse')).body.bans).toHaveLength(1);
    // No longer a follower.
    const followers = (await api(A, 'GET', '/api/v1/fediverse')).body.followers as Array<{ actor: string }>;
    expect(followers.map((f) => f.actor)).not.toContain(`${B.server.url}/ap/actor/site`);

    const comments = () =>
      A.t.db.selectFrom('comments').select(['body', 'status']).where('remote_actor', '=', `${B.server.url}/ap/actor/site`).execute();
    const before = await comments();
    const reply = await api(B, 'POST', '/api/v1/fediverse/replies', { in_reply_to: article, content: 'A reply while banned.' });
    expect(reply.status).toBe(202);
    // A took the signed activity (202) and wrote nothing.
    await until('B to deliver the reply', async () =>
      B.t.db
        .selectFrom('fediverse_deliveries')
        .select('id')
        .where('activity_id', 'like', `${reply.body.reply.id}%`)
        .where('status', '=', 'delivered')
        .executeTakeFirst(),
    );
    expect(await comments()).toEqual(before);

    expect((await api(A, 'DELETE', `/api/v1/fediverse/bans/${banned.body.ban.id}`)).status).toBe(204);
    expect((await api(A, 'DELETE', `/api/v1/fediverse/bans/${banned.body.ban.id}`)).status).toBe(404);
    const again = await api(B, 'POST', '/api/v1/fediverse/replies', { in_reply_to: article, content: 'A reply after the ban.' });
    expect(again.status).toBe(202);
    await until('the reply after the ban on A', async () =>
      (await comments()).find((c) => c.body.includes('after the ban') && c.status === 'held'),
    );
    expect((await comments()).some((c) => c.body.includes('while banned'))).toBe(false);
  });

  it("recommendations: listed after subscribing and in Ghost's format; readers counted both ways, nothing else shared", async () => {
    const created = await api(A, 'POST', '/api/v1/recommendations', { url: `${B.server.url}/`, name: 'Site B', reason: 'Good letters' });
    expect(created.status).toBe(201);
    // B's pages say they are Hearth's: B can be subscribed to in one step.
    expect(created.body.recommendation.kind).toBe('hearth');
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

  it('recognises Ghost sites and others; a site that does not answer is "other" within the time limit', async () => {
    const site = createServer((req, res) => {
      if (req.url === '/slow/') return; // never answers
      res.setHeader('content-type', 'text/html');
      if (req.url === '/ghost/')
        res.end('<!doctype html><html><head><meta content="Ghost 6.2" name="generator"><title>G</title></head></html>');
      else if (req.url === '/moved/') res.writeHead(301, { location: '/ghost/' }).end();
      else res.end('<!doctype html><html><head><title>Plain</title></head><body>Hearth is a word here</body></html>');
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    try {
      const kind = async (path: string) =>
        (await api(A, 'POST', '/api/v1/recommendations', { url: base + path, name: path })).body.recommendation.kind;
      expect(await kind('/ghost/')).toBe('ghost');
      expect(await kind('/moved/')).toBe('ghost');
      expect(await kind('/plain/')).toBe('other');
      // The site never answers: only the time limit (DETECT_TIMEOUT_MS) can end this request, so an
      // answer at all is the check (a request that waited for the site would hit the test's
      // timeout). How long it took is not asserted: load stretches it, and no bench/ script times it.
      expect(await kind('/slow/')).toBe('other');
    } finally {
      site.closeAllConnections();
      await new Promise<void>((r) => site.close(() => r()));
      const list = (await api(A, 'GET', '/api/v1/recommendations')).body.recommendations as Array<{ id: string; url: string }>;
      for (const r of list.filter((x) => x.url.startsWith(base)))
        expect((await api(A, 'DELETE', `/api/v1/recommendations/${r.id}`)).status).toBe(204);
    }
  }, 60_000);

  it('a reader who confirms on A subscribes to B in one step: only the address goes, B asks them to confirm', async () => {
    const { createNewsletter } = await import('../../src/domain/newsletters/newsletters.ts');
    await createNewsletter(A.t.db, { slug: 'news', name: 'News', default: true });
    const email = 'one.step@example.com';
    const sub = await fetch(`${A.server.url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ email, name: 'Private Name' }),
    });
    expect(sub.status).toBe(202);
    const mail = await until("A's confirmation email", async () =>
      A.t.db
        .selectFrom('outbox')
        .select('text')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .executeTakeFirst(),
    );
    const confirmToken = decodeURIComponent(/\/confirm\?token=([^\s&"]+)/.exec(mail.text ?? '')![1]!);
    const confirmed = await fetch(`${A.server.url}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: confirmToken }),
    });
    const page = await confirmed.text();
    expect(confirmed.status).toBe(200);
    expect(page).toContain('data-testid="one-step"');
    const recId = ((await api(A, 'GET', '/api/v1/recommendations')).body.recommendations as Array<{ id: string; name: string }>).find(
      (r) => r.name === 'Site B',
    )!.id;
    expect(page).toContain(`value="${recId}"`);
    const readerToken = /name="token" value="([^"]+)"/.exec(page)![1]!;

    const bad = await fetch(`${A.server.url}/recommendations/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: `${readerToken}x`, recommendation: recId }),
    });
    expect(bad.status).toBe(400);
    const ask = () =>
      fetch(`${A.server.url}/recommendations/subscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: readerToken, recommendation: recId }),
      });
    const done = await ask();
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Site B');

    const onB = await until('the reader on B', async () =>
      B.t.db.selectFrom('members').selectAll().where('email', '=', email).executeTakeFirst(),
    );
    // Pending until they confirm on B; nothing but the address came (not the name A knows).
    expect(onB).toMatchObject({ status: 'pending', name: null, utm_source: A.host, utm_medium: 'recommendation' });
    await until("B's own confirmation email", async () =>
      B.t.db
        .selectFrom('outbox')
        .select('id')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .executeTakeFirst(),
    );
    await until('the subscription to be marked sent on A', async () =>
      A.t.db.selectFrom('recommendation_subscriptions').select('status').where('status', '=', 'sent').executeTakeFirst(),
    );
    // Asking twice sends once.
    expect((await ask()).status).toBe(200);
    expect(await A.t.db.selectFrom('recommendation_subscriptions').selectAll().execute()).toHaveLength(1);

    const a = (await api(A, 'GET', '/api/v1/recommendations')).body.recommendations.find((r: { id: string }) => r.id === recId);
    expect(a).toMatchObject({ readers_sent: 2, readers_subscribed: 1 });
    const b = (await api(B, 'GET', '/api/v1/recommendations')).body.recommendations[0];
    expect(b).toMatchObject({ name: 'Site A', readers_received: 2 });
  }, 60_000);
});
