import { z } from 'zod';
import type { ApiDeps } from './route.ts';
import type { FediverseContext } from '../../domain/fediverse/federation.ts';

/** Request bodies of /api/v1/fediverse/… (docs/api.md). */
export const followBody = z.strictObject({ account: z.string().min(3).max(500) });
export const blockBody = z.strictObject({ domain: z.string().min(1).max(260), reason: z.string().max(500).optional() });
export const replyBody = z.strictObject({ in_reply_to: z.string().url().max(2000), content: z.string().min(1).max(20_000) });

export function fediverseDeps(deps: ApiDeps): FediverseContext {
  return { db: deps.db, siteUrl: deps.siteUrl, allowPrivate: deps.federationAllowPrivate ?? false };
}
