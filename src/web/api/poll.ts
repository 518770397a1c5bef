import { z } from 'zod';
import type { Poll, PollPatch } from '../../domain/polls/polls.ts';
import type { PollResults } from '../../domain/polls/votes.ts';
import { Id, Next, Timestamp } from './schema.ts';

/** The polls API's contract (README "Polls"): bodies, the Poll shape with its results, the serializer. */

const answers = z.array(z.string().min(1).max(120)).min(2).max(6);

/** POST /api/v1/polls. */
export const newPollBody = z
  .strictObject({
    question: z.string().min(1).max(300),
    answers,
    status: z.enum(['open', 'closed']).optional(),
    closes_at: z.iso.datetime({ offset: true }).nullable().optional().meta({ description: 'After this time the poll takes no answers.' }),
  })
  .meta({ id: 'PollCreate' });

/** PATCH /api/v1/polls/:id. */
export const patchPollBody = z
  .strictObject({
    question: z.string().min(1).max(300).optional(),
    answers: answers.optional().meta({ description: 'Reworded only, once members have answered (same number of answers).' }),
    status: z.enum(['open', 'closed']).optional(),
    closes_at: z.iso.datetime({ offset: true }).nullable().optional(),
  })
  .meta({ id: 'PollPatch' });

const Results = z
  .strictObject({
    total: z.int(),
    answers: z.array(z.strictObject({ answer: z.int(), text: z.string(), votes: z.int() })),
    by_platform: z.array(z.strictObject({ platform: z.string(), votes: z.array(z.int()) })).meta({
      description: "Votes per answer (by position) per member's first-touch platform.",
    }),
    by_tier: z
      .array(z.strictObject({ tier: z.string(), votes: z.array(z.int()) }))
      .meta({ description: 'Votes per answer per tier (slug).' }),
  })
  .meta({ id: 'PollResults' });

export const PollJson = z
  .strictObject({
    id: Id,
    question: z.string(),
    answers: z.array(z.string()),
    status: z.enum(['open', 'closed']),
    open: z.boolean().meta({ description: 'Taking answers now (open and not past closes_at).' }),
    closes_at: Timestamp.nullable(),
    block: z.string().meta({ description: "The line to put in a post's Markdown, e.g. {{poll:12}}." }),
    created_at: Timestamp,
    results: Results.optional(),
  })
  .meta({ id: 'Poll' });

export const PollEnvelope = z.strictObject({ poll: PollJson });
export const PollPage = z.strictObject({ polls: z.array(PollJson), next: Next });

export function pollJson(p: Poll, open: boolean, results?: PollResults): z.infer<typeof PollJson> {
  return {
    id: p.id,
    question: p.question,
    answers: p.answers,
    status: p.status,
    open,
    closes_at: p.closesAt?.toISOString() ?? null,
    block: `{{poll:${p.id}}}`,
    created_at: p.createdAt.toISOString(),
    ...(results
      ? {
          results: {
            total: results.total,
            answers: results.answers,
            by_platform: results.byPlatform,
            by_tier: results.byTier,
          },
        }
      : {}),
  };
}

export function pollPatch(body: z.infer<typeof patchPollBody>): PollPatch {
  return {
    question: body.question,
    answers: body.answers,
    status: body.status,
    closesAt: body.closes_at === undefined ? undefined : body.closes_at === null ? null : new Date(body.closes_at),
  };
}
