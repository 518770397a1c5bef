import { z } from 'zod';

/** The JSON bodies of the members API (DESIGN.md): strict, so a misspelt field is an error, not ignored. */
const slugList = z.array(z.string().min(1).max(64)).max(50);
export const createMemberBody = z
  .object({
    email: z.string().min(1).max(320),
    name: z.string().max(200).nullable().optional(),
    newsletters: slugList.optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    status: z.enum(['active', 'pending']).optional(),
    tier: z.string().min(1).max(64).optional(),
    notes: z.string().max(5000).optional(),
  })
  .strict();

export const patchMemberBody = z
  .object({
    email: z.string().min(1).max(320).optional(),
    name: z.string().max(200).nullable().optional(),
    newsletters: slugList.optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    status: z.enum(['active', 'unsubscribed']).optional(),
    tier: z.string().min(1).max(64).optional(),
    /** With tier: the end of complimentary access (ISO 8601), or null for none. */
    comp_until: z.iso.datetime({ offset: true }).nullable().optional(),
    notes: z.string().max(5000).optional(),
  })
  .strict();
