import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffSession } from '../../src/domain/staff/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { englishLeftovers, visibleText } from '../helpers/i18n.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';

/**
 * The conversation of a French site, in French: every state a comment can be in (published,
 * the reader's own held and hidden ones, a removed one over its replies, a staff answer to a
 * question, a reply from the fediverse), every form a member, a staff user and a visitor get,
 * the notices after a form, and the refusals (the comment and action pages, the reactions
 * endpoint). Visible text and the words in attributes (aria-label, title) are checked.
 */
let t: TestDatabase;
let server: RunningServer;
let slug = '';
let camille = '';
let lou = '';
let staff = '';
let mine = '';

/** What the site's people wrote, which may be in any language. */
const ALLOWED = ['Le Potager', 'Semis d’automne', 'Mo'];

beforeAll(async () => {
  t = await createTestDatabase();
  await saveSiteSettings(t.db, { title: 'Le Potager', description: 'Des nouvelles du jardin.', language: 'fr', timeZone: 'Europe/Paris' });
  const owner = await createStaffUser(t.db, { email: 'mo@example.com', password: 'a long staff password', role: 'owner', name: 'Mo' });
  const token = (await createApiToken(t.db, owner.id, 'test')).token;
  staff = `hearth_staff=${(await createStaffSession(t.db, owner.id)).token}`;
  server = await startServer({ databaseUrl: t.url });
  const created = await fetch(`${server.url}/api/v1/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Semis d’automne', markdown: 'Les radis poussent vite.', visibility: 'public', status: 'published' }),
  });
  expect(created.status).toBeLessThan(300);
  const post = ((await created.json()) as { post: { id: string; slug: string } }).post;
  slug = post.slug;
  const member = (email: string, name: string | null) =>
    t.db
      .insertInto('members')
      .values({
        email,
        name,
        status: 'active',
        referral_code: `ref-${email.slice(0, 5)}`,
        tier_id: sql<string>`(select id from tiers where not paid order by id limit 1)` as unknown as string,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  const c = await member('camille@example.com', 'Camille');
  const l = await member('lou@example.com', null);
  camille = `hearth_member=${(await createMemberSession(t.db, c.id)).token}`;
  lou = `hearth_member=${(await createMemberSession(t.db, l.id)).token}`;
  const say = (values: Record<string, unknown>) =>
    t.db
      .insertInto('comments')
      .values({ post_id: post.id, body: 'Merci pour les radis.', announced: true, ...values } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
  const question = await say({ member_id: l.id, body: 'Quand faut-il semer ?', question: true });
  await say({ post_id: post.id, parent_id: question.id, staff_user_id: owner.id, body: 'En septembre.' });
  await t.db.updateTable('comments').set({ answered_at: new Date() }).where('id', '=', question.id).execute();
  mine = (await say({ member_id: c.id, body: 'Les miens ont levé en trois jours.' })).id;
  const gone = await say({ member_id: l.id, status: 'deleted', body: '' });
  const reply = await say({ member_id: c.id, parent_id: gone.id, body: 'Réponse gardée.' });
  await say({ member_id: l.id, parent_id: gone.id, reply_to_id: reply.id, body: 'Bien vu.', edited_at: new Date() });
  await say({ remote_actor: 'https://mastodon.example/users/zoe', remote_handle: '@zoe@mastodon.example', body: 'Bonjour du fédivers.' });
  await say({ member_id: c.id, status: 'held', hold_reason: 'link_from_new_member', body: 'Voyez https://exemple.fr' });
  await say({ member_id: c.id, status: 'hidden', body: 'Masqué.' });
  await t.db.insertInto('reactions').values({ post_id: post.id, comment_id: question.id, member_id: c.id, kind: 'thanks' }).execute();
  await t.db.insertInto('reactions').values({ post_id: post.id, member_id: l.id, kind: 'love' }).execute();
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const get = (path: string, cookie?: string) => fetch(server.url + path, { headers: cookie ? { cookie } : {} });
const postForm = (path: string, fields: Record<string, string>, cookie: string) =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, cookie },
    redirect: 'manual',
  });

/** English left in what a reader sees or hears: the text, and the words of aria-label and title attributes. */
function leftovers(html: string): string[] {
  const page = html.replace(/<title>[\s\S]*?<\/title>/, '');
  const attributes = [...page.matchAll(/\s(?:aria-label|title|placeholder|alt)="([^"]*)"/g)].map((m) => m[1]!).join(' · ');
  return englishLeftovers(`${visibleText(page)} · ${attributes}`, 'fr', ALLOWED);
}

describe('the conversation of a French site', () => {
  it('reads in French to a visitor: badges, times, the count and the invitation', async () => {
    const html = await (await get(`/posts/${slug}`)).text();
    expect(html).toMatch(/<html lang="fr"/);
    expect(html).toContain('data-testid="fediverse-badge"');
    expect(html).toContain('Réponse de Le Potager');
    expect(html).toContain('Un membre');
    expect(html).toContain('Ce commentaire a été retiré.');
    expect(html).not.toContain('Masqué.');
    expect(leftovers(html)).toEqual([]);
  });

  it('reads in French to a member: every form, their held and hidden comments and why, each notice after a form', async () => {
    const html = await (await get(`/posts/${slug}`, camille)).text();
    for (const words of ['Répondre', 'Modifier', 'Supprimer définitivement mon commentaire', 'Marquer comme question', 'Signaler'])
      expect(html).toContain(words);
    expect(html).toContain('En attente de relecture (lien publié par un nouveau membre)');
    expect(html).toContain('Un modérateur a masqué ce commentaire');
    expect(html).toMatch(/value="thanks" aria-pressed="true"/);
    expect(leftovers(html)).toEqual([]);
    // Reply and report have their forms on the comment's own page, in French too.
    const other = /href="(\/posts\/[^"]+\/comments\/\d+)#report"/.exec(html)?.[1];
    expect(other).toBeTruthy();
    const page = await (await get(other!, camille)).text();
    expect(page).toMatch(/<html lang="fr"/);
    for (const words of ['Un commentaire sur « Semis d’automne »', 'Votre réponse', 'Spam ou publicité']) expect(page).toContain(words);
    expect(leftovers(page)).toEqual([]);
    for (const flash of ['posted', 'held', 'edited', 'deleted', 'reported', 'question', 'unquestion']) {
      const page = await (await get(`/posts/${slug}?c=${flash}`, camille)).text();
      const notice = /data-testid="conversation-flash">([\s\S]*?)<\/p>/.exec(page)?.[1]?.trim();
      expect(notice, flash).toBeTruthy();
      expect(englishLeftovers(notice!, 'fr'), flash).toEqual([]);
    }
  });

  it('reads in French to staff (the brand reply form and the moderation links)', async () => {
    const html = await (await get(`/posts/${slug}`, staff)).text();
    expect(html).toContain('Répondre au nom de Le Potager');
    expect(html).toContain('File de relecture');
    expect(leftovers(html)).toEqual([]);
  });

  it('answers refusals in French: an empty comment, an unknown action, a report of their own, a bad reaction', async () => {
    const empty = await postForm(`/posts/${slug}/comments`, { body: '   ' }, camille);
    expect(empty.status).toBe(400);
    const emptyHtml = await empty.text();
    expect(emptyHtml).toContain('Écrivez quelque chose avant de publier.');
    expect(leftovers(emptyHtml)).toEqual([]);

    const unknown = await postForm(`/posts/${slug}/comments/${mine}`, { action: 'dance' }, camille);
    expect(unknown.status).toBe(400);
    expect(leftovers(await unknown.text())).toEqual([]);

    const own = await postForm(`/posts/${slug}/comments/${mine}`, { action: 'report', reason: 'spam' }, camille);
    expect(own.status).toBe(400);
    const ownHtml = await own.text();
    expect(ownHtml).toContain('Vous ne pouvez pas signaler votre propre commentaire');
    expect(leftovers(ownHtml)).toEqual([]);

    const notYours = await postForm(`/posts/${slug}/comments/${mine}`, { action: 'edit', body: 'Changé.' }, lou);
    expect(notYours.status).toBe(404);
    expect(leftovers(await notYours.text())).toEqual([]);

    const reaction = await postForm(`/posts/${slug}/reactions`, { kind: 'shrug' }, camille);
    expect(reaction.status).toBe(400);
    const text = await reaction.text();
    expect(text).toContain('Cette réaction n’existe pas.');
    expect(englishLeftovers(text.replace(/\/posts\/\S+/, ''), 'fr')).toEqual([]);

    const anonymous = await fetch(`${server.url}/posts/${slug}/reactions`, {
      method: 'POST',
      body: new URLSearchParams({ kind: 'like' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain('Connectez-vous pour participer à la conversation.');
  });

  it('the same pages in English are English (the check can fail)', async () => {
    await saveSiteSettings(t.db, { language: 'en' });
    await t.db.updateTable('members').set({ language: null }).execute();
    await heard(server, t.db);
    const html = await (await get(`/posts/${slug}`, camille)).text();
    expect(html).toContain('Delete my comment for good');
    expect(leftovers(html).length).toBeGreaterThan(0);
    await saveSiteSettings(t.db, { language: 'fr' });
  });
});
