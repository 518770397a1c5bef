import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { EventWriter } from '../../lib/event-writer.ts';
import type { Viewer } from '../content/access.ts';
import { getSiteSettings } from '../site/settings.ts';
import { agentClass, isMachine } from './agents.ts';
import { readClickToken, readOpenToken } from './tokens.ts';

/**
 * Recording engagement: an open (the pixel), a click (the redirect), a post read by a known
 * member, an anonymous post view. Each writes one append-only row through the event writer.
 * Tokens that do not verify, and links a send does not have, are "not found": the click
 * redirect goes only to a URL stored for that send, never to one taken from the request.
 */
export interface HitRequest {
  method: string;
  userAgent: string | undefined;
}

/** An open: true when the token is good (the pixel is answered either way once it is). */
export async function recordOpen(writer: EventWriter, secret: string, token: string, hit: HitRequest): Promise<boolean> {
  const ref = readOpenToken(secret, token);
  if (!ref) return false;
  const agent = agentClass(hit.userAgent);
  await writer.write({ kind: 'open', member_id: ref.memberId, send_id: ref.sendId, post_id: null, link: null, machine: isMachine({ kind: 'open', method: hit.method, agent }), agent });
  return true;
}

/** A click: the stored URL to redirect to, or null (unknown token or link: a plain 404). */
export async function recordClick(db: Kysely<Database>, writer: EventWriter, secret: string, token: string, hit: HitRequest): Promise<string | null> {
  const ref = readClickToken(secret, token);
  if (!ref) return null;
  // The link and when this member's email was posted (a click seconds later is a scanner's), in
  // one primary-key lookup each.
  const row = await db
    .selectFrom('send_links as l')
    .leftJoin('deliveries as d', (join) => join.onRef('d.send_id', '=', 'l.send_id').on('d.member_id', '=', ref.memberId ?? '0'))
    .select(['l.url', sql<number | null>`extract(epoch from now() - d.posted_at)::float8`.as('seconds')])
    .where('l.send_id', '=', ref.sendId)
    .where('l.link', '=', ref.link)
    .executeTakeFirst();
  if (!row) return null;
  const agent = agentClass(hit.userAgent);
  const machine = isMachine({ kind: 'click', method: hit.method, agent, secondsSincePosted: row.seconds });
  await writer.write({ kind: 'click', member_id: ref.memberId, send_id: ref.sendId, post_id: null, link: ref.link, machine, agent });
  return row.url;
}

/**
 * A post page seen: by a signed-in member a "read" (anonymous "view" when per-member tracking
 * is off), by anyone else a "view", counted without cookies. Staff are not counted.
 */
export async function recordPostView(db: Kysely<Database>, writer: EventWriter, postId: string, who: { viewer: Viewer; memberId?: string | undefined }, hit: HitRequest): Promise<void> {
  if (who.viewer.kind === 'staff') return;
  const agent = agentClass(hit.userAgent);
  const machine = isMachine({ kind: 'view', method: hit.method, agent: agent === 'apple-mpp' ? 'other' : agent });
  const named = who.viewer.kind === 'member' && who.memberId !== undefined && (await getSiteSettings(db)).trackPerMember;
  await writer.write({ kind: named ? 'read' : 'view', member_id: named ? who.memberId! : null, send_id: null, post_id: postId, link: null, machine, agent });
}
