import { z } from 'zod';
import type { SendView } from '../../domain/sending/sends.ts';
import { ENGAGEMENT } from '../../domain/sending/segments.ts';
import { Id, Next, Timestamp } from './schema.ts';

/** The sends API's contract (DESIGN.md "Admin API v1"): request bodies, the Send shape, and its one serializer. */

const SEND_STATUSES = ['draft', 'scheduled', 'preparing', 'sending', 'paused', 'sent', 'cancelled', 'failed'] as const;
const BATCH_STATUSES = ['pending', 'posting', 'posted', 'failed', 'cancelled', 'held'] as const;

/** A segment as asked for; its own rules (known slugs, at least one newsletter) are checked by the domain. */
const SegmentInput = z
  .object({
    newsletters: z.array(z.string().max(100)).max(50),
    tiers: z.array(z.string().max(100)).max(50).optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    platforms: z.array(z.string().max(40)).max(50).optional(),
    engagement: z.string().max(20).optional(),
    fields: z
      .array(
        z.union([
          z.strictObject({ key: z.string().max(40), equals: z.union([z.string().max(200), z.number(), z.boolean()]) }),
          z.strictObject({ key: z.string().max(40), set: z.literal(true) }),
        ]),
      )
      .max(10)
      .optional()
      .meta({ description: 'Custom member field conditions (GET /api/v1/fields): {"key","equals"} or {"key","set":true}.' }),
  })
  .strict()
  .meta({ id: 'SegmentInput' });

const SegmentFieldCondition = z.union([
  z.strictObject({ key: z.string(), equals: z.string() }),
  z.strictObject({ key: z.string(), set: z.literal(true) }),
]);

const PostId = z.union([Id, z.number().int().positive()]).transform(String);

/** POST /api/v1/sends */
export const sendBody = z
  .object({
    post_id: PostId,
    segment: SegmentInput,
    send_at: z.iso.datetime({ offset: true }).optional(),
    undo_seconds: z.number().int().optional(),
    /** Keep it as a draft instead of scheduling it. */
    draft: z.boolean().optional().meta({ description: 'Keep it as a draft instead of scheduling it.' }),
    confirm_clipped: z.boolean().optional().meta({
      description: "Send even if the email's heaviest variant is over Gmail's 102 KB clip (otherwise a 400 email_clipped with its size).",
    }),
    subjects: z
      .array(z.string().max(200))
      .optional()
      .meta({ description: 'A subject test: 2 to 4 subject lines (the domain checks the count, with a message).' }),
    test: z
      .strictObject({
        sample: z.number().optional().meta({ description: 'Share of the segment in the test, between 0 and 1 (default 0.2).' }),
        wait: z
          .string()
          .max(40)
          .optional()
          .meta({ description: 'ISO-8601 duration before the winner goes to the rest, at most P7D (default PT4H).' }),
      })
      .optional(),
  })
  .strict()
  .meta({ id: 'SendCreate' });

/** POST /api/v1/sends/:id/winner */
export const winnerBody = z.strictObject({ subject_index: z.int().min(0).max(3) }).meta({ id: 'SendWinner' });

const SubjectTest = z
  .strictObject({
    subjects: z.array(z.string()),
    sample: z.number(),
    wait: z.string(),
    ends_at: Timestamp.nullable().meta({ description: 'When the winner is judged (set when the send is prepared).' }),
    winner: z.int().nullable().meta({ description: 'Index in subjects, once chosen.' }),
    winner_rule: z.string().nullable().meta({ description: 'Why: "human clicks 14 vs 9", "tie on clicks …", "picked by …".' }),
    decided_at: Timestamp.nullable(),
  })
  .meta({ id: 'SubjectTest' });

/** POST /api/v1/sends/count */
export const countBody = z.object({ post_id: PostId, segment: SegmentInput }).strict().meta({ id: 'SendCount' });

/** POST /api/v1/sends/:id/schedule (an empty body schedules after the undo window). */
export const scheduleBody = z
  .object({ send_at: z.iso.datetime({ offset: true }).optional(), undo_seconds: z.number().int().optional() })
  .strict()
  .meta({ id: 'SendSchedule' });

export const Send = z
  .strictObject({
    id: Id,
    status: z.enum(SEND_STATUSES),
    post_id: Id,
    post_title: z.string(),
    segment: z.strictObject({
      newsletters: z.array(z.string()),
      tiers: z.array(z.string()),
      labels: z.array(z.string()),
      platforms: z.array(z.string()),
      engagement: z.enum(ENGAGEMENT),
      fields: z.array(SegmentFieldCondition).optional(),
    }),
    segment_summary: z.string(),
    recipients: z.int(),
    posted: z.int(),
    delivered: z.int(),
    bounced: z.int(),
    complained: z.int(),
    delayed: z.int(),
    failed: z.int(),
    skipped: z.int(),
    remaining: z.int(),
    progress: z.number().min(0).max(1),
    send_at: Timestamp.nullable(),
    undo_until: Timestamp.nullable().meta({ description: 'While scheduled: until when undo returns it to a draft.' }),
    undo_seconds: z.int(),
    seconds_to_send: z.int().nullable(),
    error: z.string().nullable(),
    created_at: Timestamp,
    prepared_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
    subject_test: SubjectTest.nullable(),
  })
  .meta({ id: 'Send' });

export type SendJson = z.infer<typeof Send>;

export const SendEnvelope = z.strictObject({ send: Send });
export const SendPage = z.strictObject({ sends: z.array(Send), next: Next });
export const SendRecipients = z.strictObject({ count: z.int() });
export const SendReport = z
  .strictObject({
    send: Send,
    batches: z.partialRecord(z.enum(BATCH_STATUSES), z.strictObject({ batches: z.int(), deliveries: z.int() })),
    problems: z.array(z.strictObject({ batch: z.int(), attempts: z.int(), error: z.string().nullable(), status: z.enum(BATCH_STATUSES) })),
  })
  .meta({ id: 'SendReport' });

/** The send as the API gives it: the fields of the domain's read model that are part of the contract. */
export function sendJson(s: SendView): SendJson {
  return {
    id: s.id,
    status: s.status,
    post_id: s.post_id,
    post_title: s.post_title,
    segment: s.segment,
    segment_summary: s.segment_summary,
    recipients: s.recipients,
    posted: s.posted,
    delivered: s.delivered,
    bounced: s.bounced,
    complained: s.complained,
    delayed: s.delayed,
    failed: s.failed,
    skipped: s.skipped,
    remaining: s.remaining,
    progress: s.progress,
    send_at: s.send_at,
    undo_until: s.undo_until,
    undo_seconds: s.undo_seconds,
    seconds_to_send: s.seconds_to_send,
    error: s.error,
    created_at: s.created_at,
    prepared_at: s.prepared_at,
    finished_at: s.finished_at,
    subject_test: s.subject_test,
  };
}
