import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import type { RunningServer } from '../helpers/server.ts';
import { makePost, startSendingSite, type SendingSite } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ResendTestServer } from '../servers/resend.ts';

/**
 * The live send report: an open, a click and an unsubscribe on a fresh send show in it with no
 * rollup run (nothing here refreshes the rollups: what shows comes from the live counters). The
 * report's "within 5 s" is a latency goal, measured by `npm run bench:live -- report`
 * (bench/live.ts, bench/RESULTS.md), not here: each figure is awaited up to 30 s.
 */
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
let site: SendingSite | undefined;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let token = '';

beforeAll(async () => {
  site = await startSendingSite({ members: 6, token: 'live' });
  ({ t, server, resend, token } = site);
});
afterAll(async () => {
  await site?.stop();
});

const api = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

interface Report {
  live: boolean;
  delivered: number;
  human_opens: number;
  machine_opens: number;
  human_clicks: number;
  unsubscribed: number;
  clicks: { human: number; unique_human: number; machine: number };
  links: Array<{ link: number; human_clicks: number; unique_human_clicks: number; machine_clicks: number }>;
}

describe('live send report', () => {
  it('shows a click on a fresh send (no rollup run) and counts uniques once', async () => {
    const postId = await makePost(t.db, {
      title: 'Live one',
      markdown: 'Read [the story](https://example.org/story) and [more](https://example.org/more).',
    });
    const res = await fetch(`${server.url}/api/v1/sends`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0 }),
    });
    const { send } = (await res.json()) as { send: { id: string } };
    await waitFor(
      async () => (await t.db.selectFrom('sends').select('status').where('id', '=', send.id).executeTakeFirstOrThrow()).status,
      {
        until: (s) => s === 'sent',
        timeout: 30_000,
        what: 'the send',
      },
    );
    // The emails arrived a while ago (a click within 10 s of arrival is a scanner's).
    await sql`update deliveries set posted_at = now() - interval '1 minute' where send_id = ${send.id}`.execute(t.db);
    await sql`delete from stats_sends where send_id = ${send.id}`.execute(t.db);
    const before = (await (await api(`/api/v1/stats/sends/${send.id}`)).json()) as Report;
    expect(before.live).toBe(true);
    expect(before.human_clicks).toBe(0);

    const email = resend.emails.find((e) => e.to[0] === 'reader1@example.com' && e.subject === 'Live one')!;
    const links = [...email.html!.matchAll(/href="([^"]*\/t\/c\/[^"]+)"/g)].map((m) => m[1]!.replace(/^http:\/\/[^/]+/, server.url));
    const pixel = /<img src="([^"]*\/t\/o\/[^"]+)"/.exec(email.html!)![1]!.replace(/^http:\/\/[^/]+/, server.url);
    const click = await fetch(links[0]!, { headers: { 'user-agent': BROWSER }, redirect: 'manual' });
    expect(click.status).toBe(302);
    const report = await waitFor(async () => (await (await api(`/api/v1/stats/sends/${send.id}`)).json()) as Report, {
      until: (r) => r.human_clicks === 1,
      timeout: 30_000,
      interval: 200,
      what: 'the click in the report',
    });
    expect(report.links.find((l) => l.link === 0)).toMatchObject({ human_clicks: 1, unique_human_clicks: 1 });

    // The same member again (twice more on link 0, once on link 1), an open, a privacy proxy's open.
    await fetch(links[0]!, { headers: { 'user-agent': BROWSER }, redirect: 'manual' });
    await fetch(links[1]!, { headers: { 'user-agent': BROWSER }, redirect: 'manual' });
    await fetch(pixel, { headers: { 'user-agent': BROWSER } });
    await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } });
    const after = await waitFor(async () => (await (await api(`/api/v1/stats/sends/${send.id}`)).json()) as Report, {
      until: (r) => r.clicks.human === 3 && r.human_opens === 1,
      timeout: 30_000,
      what: 'the second clicks and the open',
    });
    expect(after.human_clicks).toBe(1); // unique: one member
    expect(after.links.find((l) => l.link === 0)).toMatchObject({ human_clicks: 2, unique_human_clicks: 1 });
    expect(after.links.find((l) => l.link === 1)).toMatchObject({ human_clicks: 1, unique_human_clicks: 1 });
    expect(after.human_opens + after.machine_opens).toBe(2);

    // An unsubscribe through the email's link counts too.
    const unsub = /href="([^"]*\/unsubscribe\?token=[^"]+)"/
      .exec(email.html!)![1]!
      .replace(/&amp;/g, '&')
      .replace(/^http:\/\/[^/]+/, server.url);
    const left = await fetch(unsub, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(left.status).toBeLessThan(400);
    await waitFor(async () => (await (await api(`/api/v1/stats/sends/${send.id}`)).json()) as Report, {
      until: (r) => r.unsubscribed === 1,
      timeout: 30_000,
      what: 'the unsubscribe',
    });

    // The counters agree with a direct count of the events.
    const direct = await sql<{ clicks: string; uniq: string }>`
      select count(*) filter (where not machine) as clicks, count(distinct member_id) filter (where not machine) as uniq
      from engagement_events where send_id = ${send.id} and kind = 'click'`.execute(t.db);
    expect(Number(direct.rows[0]!.clicks)).toBe(3);
    expect(Number(direct.rows[0]!.uniq)).toBe(1);
  });
});
