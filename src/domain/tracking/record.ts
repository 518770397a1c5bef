import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { EventWriter } from '../../lib/event-writer.ts';
import type { Viewer } from '../content/access.ts';
import { getSiteSettings } from '../site/settings.ts';
import { agentClass, isMachine, SCANNER_SECONDS } from './agents.ts';
import { readClickToken, readOpenToken } from './tokens.ts';

/**
 * Recording engagement: an open (the pixel), a click (the redirect), a post read by a known
 * member, an anonymous post view. Each writes one append-only row through the event writer.
 * Tokens that do not verify, and links a send does not have, are "not found": the click
 * redirect goes only to a URL stored for that send, never to one taken from the request.
 */
export interface RequestFacts {
  method: string;
  userAgent: string | undefined;
}

/** An open: true when the token is good (the pixel is answered either way once it is). */
export async function recordOpen(writer: EventWriter, secret: string, token: string, request: RequestFacts): Promise<boolean> {
  const ref = readOpenToken(secret, token);
  if (!ref) return false;
  const agent = agentClass(request.userAgent);
  await writer.write({
    kind: 'open',
    member_id: ref.memberId,
    send_id: ref.sendId,
    post_id: null,
    link: null,
    machine: isMachine({ kind: 'open', method: request.method, agent }),
    agent,
  });
  return true;
}

interface SendInfo {
  links: string[];
  /** The post each link leads to on this site, if any. */
  posts: Array<string | null>;
  /** When the send's last batch was posted (null while it is still going out). */
  finishedAt: number | null;
  loadedAt: number;
}

/**
 * A send's links never change once it is prepared, so they are kept in memory (briefly, so a
 * send that finishes is noticed). Most clicks then cost no query at all.
 */
const sendInfo = new Map<string, SendInfo>();
const SEND_INFO_MS = 30_000;
const SEND_INFO_MAX = 2_000;

/** Ids from this one up are automation emails (migration 0035), tracked like sends. */
const AUTOMATION_EMAIL_IDS = 1_000_000_000_000n;
const isAutomationEmail = (id: string) => BigInt(id) >= AUTOMATION_EMAIL_IDS;

async function infoFor(db: Kysely<Database>, sendId: string): Promise<SendInfo | undefined> {
  const cached = sendInfo.get(sendId);
  if (cached && Date.now() - cached.loadedAt < SEND_INFO_MS) return cached;
  if (isAutomationEmail(sendId)) {
    // An automation's email never "finishes": each delivery's own time decides (below).
    const email = await db.selectFrom('automation_emails').select('links').where('id', '=', sendId).executeTakeFirst();
    if (!email) return undefined;
    const info = { links: email.links, posts: email.links.map(() => null), finishedAt: null, loadedAt: Date.now() };
    sendInfo.set(sendId, info);
    return info;
  }
  const [send, links] = await Promise.all([
    db.selectFrom('sends').select(['finished_at']).where('id', '=', sendId).executeTakeFirst(),
    db.selectFrom('send_links').select(['link', 'url', 'post_id']).where('send_id', '=', sendId).orderBy('link').execute(),
  ]);
  if (!send) return undefined;
  const info = {
    links: links.map((l) => l.url),
    posts: links.map((l) => l.post_id),
    finishedAt: send.finished_at?.getTime() ?? null,
    loadedAt: Date.now(),
  };
  if (sendInfo.size >= SEND_INFO_MAX) sendInfo.delete(sendInfo.keys().next().value!);
  sendInfo.set(sendId, info);
  return info;
}

/**
 * Seconds since a delivery arrived (delivered when the provider said so, else posted), for the
 * scanner rule. Asked for every click while a send goes out, so the asks of one moment go
 * together: one query per send a few milliseconds, instead of one query per click (at 1,000
 * clicks a second the round trips, not the lookups, were the tracking path's largest cost:
 * bench/RESULTS.md, issue 20).
 */
const ARRIVAL_WAIT_MS = 2;
interface ArrivalAsk {
  memberId: string;
  done: (seconds: number | null) => void;
  failed: (err: unknown) => void;
}
const arrivalAsks = new WeakMap<Kysely<Database>, { bySend: Map<string, ArrivalAsk[]>; timer?: NodeJS.Timeout }>();

function secondsSinceArrival(db: Kysely<Database>, sendId: string, memberId: string): Promise<number | null> {
  let pending = arrivalAsks.get(db);
  if (!pending) arrivalAsks.set(db, (pending = { bySend: new Map() }));
  const asks = pending.bySend.get(sendId) ?? [];
  pending.bySend.set(sendId, asks);
  const queued = pending;
  queued.timer ??= setTimeout(() => {
    const bySend = queued.bySend;
    queued.bySend = new Map();
    queued.timer = undefined;
    for (const [send, list] of bySend) void answerArrivals(db, send, list);
  }, ARRIVAL_WAIT_MS);
  return new Promise((done, failed) => asks.push({ memberId, done, failed }));
}

async function answerArrivals(db: Kysely<Database>, sendId: string, asks: ArrivalAsk[]): Promise<void> {
  try {
    const members = [...new Set(asks.map((a) => a.memberId))];
    // `= any(array)` on the primary key (send_id, member_id) (automation emails: their
    // (email_id, member_id) index): one index probe per member.
    const rows = isAutomationEmail(sendId)
      ? await sql<{ member_id: string; seconds: number | null }>`
          select member_id::text, extract(epoch from now() - posted_at)::float8 as seconds
          from automation_deliveries where email_id = ${sendId} and member_id = any(${members}::bigint[])`.execute(db)
      : await sql<{ member_id: string; seconds: number | null }>`
          select member_id::text, extract(epoch from now() - coalesce(delivered_at, posted_at))::float8 as seconds
          from deliveries where send_id = ${sendId} and member_id = any(${members}::bigint[])`.execute(db);
    // An automation email may reach a member more than once: the latest delivery decides.
    const seconds = new Map<string, number | null>();
    for (const r of rows.rows) {
      const had = seconds.get(r.member_id);
      if (had === undefined || (r.seconds !== null && (had === null || r.seconds < had))) seconds.set(r.member_id, r.seconds);
    }
    for (const a of asks) a.done(seconds.get(a.memberId) ?? null);
  } catch (err) {
    for (const a of asks) a.failed(err);
  }
}

/** A click: the stored URL to redirect to, or null (unknown token or link: a plain 404). */
export async function recordClick(
  db: Kysely<Database>,
  writer: EventWriter,
  secret: string,
  token: string,
  request: RequestFacts,
): Promise<string | null> {
  const ref = readClickToken(secret, token);
  if (!ref) return null;
  const info = await infoFor(db, ref.sendId);
  const url = info?.links[ref.link];
  if (!info || url === undefined) return null;
  // A click seconds after its email arrived is a scanner's. While the send is going out (and 10 s
  // after), the delivery's own time decides; later, an email delayed by its receiving server
  // (delivered long after the send finished) is the one case this shortcut can miss.
  const seconds =
    info.finishedAt === null || Date.now() - info.finishedAt < SCANNER_SECONDS * 1000
      ? await secondsSinceArrival(db, ref.sendId, ref.memberId ?? '0')
      : null;
  const agent = agentClass(request.userAgent);
  const machine = isMachine({ kind: 'click', method: request.method, agent, secondsSincePosted: seconds });
  const post = info.posts[ref.link] ?? null;
  const click = writer.write({
    kind: 'click',
    member_id: ref.memberId,
    send_id: ref.sendId,
    post_id: post,
    link: ref.link,
    machine,
    agent,
  });
  // Arriving at one of our posts from a tracked email link is reading it.
  const read =
    post && ref.memberId
      ? writer.write({ kind: 'read', member_id: ref.memberId, send_id: ref.sendId, post_id: post, link: null, machine, agent })
      : undefined;
  await Promise.all([click, read]);
  return url;
}

/** The per-member setting, read at most every few seconds (a post view must not cost a query). */
let trackingSetting: { value: boolean; at: number } | undefined;
async function tracksMembers(db: Kysely<Database>): Promise<boolean> {
  if (!trackingSetting || Date.now() - trackingSetting.at > 5_000)
    trackingSetting = { value: (await getSiteSettings(db)).trackPerMember, at: Date.now() };
  return trackingSetting.value;
}

/**
 * A post page seen: by a signed-in member a "read" (anonymous "view" when per-member tracking
 * is off), by anyone else a "view", counted without cookies. Staff are not counted.
 */
export async function recordPostView(
  db: Kysely<Database>,
  writer: EventWriter,
  postId: string,
  who: { viewer: Viewer; memberId?: string | undefined },
  request: RequestFacts,
): Promise<void> {
  if (who.viewer.kind === 'staff') return;
  const agent = agentClass(request.userAgent);
  const machine = isMachine({ kind: 'view', method: request.method, agent: agent === 'apple-mpp' ? 'other' : agent });
  const named = who.viewer.kind === 'member' && who.memberId !== undefined && (await tracksMembers(db));
  await writer.write({
    kind: named ? 'read' : 'view',
    member_id: named ? who.memberId! : null,
    send_id: null,
    post_id: postId,
    link: null,
    machine,
    agent,
  });
}
