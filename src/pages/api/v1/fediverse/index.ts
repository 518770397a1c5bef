import { followersForAdmin, listDomainBlocks } from '../../../../domain/fediverse/followers.ts';
import { listActorBans } from '../../../../domain/fediverse/bans.ts';
import { listFollowing } from '../../../../domain/fediverse/social.ts';
import { banJson } from '../../../../web/api/fediverse.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

/** Followers and their servers, accounts followed, blocked servers. */
export const GET = apiRoute(async (_, { db }) => {
  const [{ followers, servers }, following, blocks, bans] = await Promise.all([
    followersForAdmin(db),
    listFollowing(db),
    listDomainBlocks(db),
    listActorBans(db),
  ]);
  return json({
    followers: followers.map((f) => ({ handle: f.handle, server: f.server, actor: f.actor_uri, followed_at: f.created_at.toISOString() })),
    servers,
    following: following.map((f) => ({ handle: f.handle, actor: f.actor_uri, accepted: f.accepted_at !== null })),
    blocks: blocks.map((b) => ({ domain: b.domain, reason: b.reason })),
    bans: bans.map(banJson),
  });
});
