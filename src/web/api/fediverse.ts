import { z } from 'zod';
import type { ApiDeps } from './route.ts';
import type { FediverseContext } from '../../domain/fediverse/federation.ts';
import type { ActorBan } from '../../domain/fediverse/bans.ts';
import { Id, Timestamp } from './schema.ts';

/** The /api/v1/fediverse/… contract (docs/api.md, README "On the open social web"): bodies, answers, serializers. */
export const followBody = z
  .strictObject({ account: z.string().min(3).max(500).meta({ description: '`user@server`, `@user@server` or an actor address.' }) })
  .meta({ id: 'FediverseFollow' });
export const blockBody = z
  .strictObject({ domain: z.string().min(1).max(260), reason: z.string().max(500).optional() })
  .meta({ id: 'FediverseBlockCreate' });
export const replyBody = z
  .strictObject({ in_reply_to: z.string().url().max(2000), content: z.string().min(1).max(20_000) })
  .meta({ id: 'FediverseReplyCreate' });
export const banBody = z
  .strictObject({
    account: z.string().min(3).max(2000).meta({ description: '`@user@server` (as comments show it) or the actor address.' }),
    reason: z.string().max(500).optional(),
  })
  .meta({ id: 'FediverseBanCreate' });

export function fediverseDeps(deps: ApiDeps): FediverseContext {
  return { db: deps.db, siteUrl: deps.siteUrl, allowPrivate: deps.federationAllowPrivate ?? false };
}

const Following = z.strictObject({ handle: z.string(), actor: z.string(), accepted: z.boolean() });
const Block = z.strictObject({ domain: z.string(), reason: z.string() });
const Ban = z
  .strictObject({ id: Id, actor: z.string(), handle: z.string(), reason: z.string(), created_at: Timestamp })
  .meta({ id: 'FediverseBan' });

export const FediverseOverview = z
  .strictObject({
    followers: z.array(z.strictObject({ handle: z.string(), server: z.string(), actor: z.string(), followed_at: Timestamp })),
    servers: z.array(z.strictObject({ server: z.string(), followers: z.int() })),
    following: z.array(Following),
    blocks: z.array(Block),
    bans: z.array(Ban),
  })
  .meta({ id: 'FediverseOverview' });
export const FollowingList = z.strictObject({ following: z.array(Following) });
export const FollowingCreated = z.strictObject({ following: z.strictObject({ actor: z.string(), handle: z.string() }) });
export const BlockList = z.strictObject({ blocks: z.array(Block) });
export const BlockEnvelope = z.strictObject({ block: Block });
export const BanList = z.strictObject({ bans: z.array(Ban) });
export const BanEnvelope = z.strictObject({ ban: Ban });
export const ReceivedList = z.strictObject({
  received: z.array(
    z.strictObject({
      id: z.string(),
      type: z.string(),
      actor: z.string(),
      handle: z.string(),
      in_reply_to: z.string().nullable(),
      name: z.string().nullable(),
      summary: z.string().nullable(),
      content: z.string().meta({ description: 'Plain text: remote HTML never passes.' }),
      url: z.string().nullable(),
      received_at: Timestamp,
    }),
  ),
});
export const ReplyEnvelope = z.strictObject({ reply: z.strictObject({ id: z.string() }) });

export function banJson(b: ActorBan): z.infer<typeof Ban> {
  return { id: b.id, actor: b.actor, handle: b.handle, reason: b.reason, created_at: b.createdAt.toISOString() };
}
