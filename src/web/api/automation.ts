import { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';
import type { AutomationRow } from '../../domain/automations/automations.ts';
import { TRIGGER_TYPES, WEEKDAYS } from '../../domain/automations/definitions.ts';
import { Id, Rate, Timestamp } from './schema.ts';

/** The automations API's contract (README "Automations", docs/api.md): request bodies and the answer's shape. */

const Name = z.string().trim().min(1).max(200);
const Slugs = z.array(z.string().trim().min(1).max(100)).min(1).max(50);

export const AutomationTrigger = z.strictObject({
  type: z.enum(TRIGGER_TYPES),
  platforms: Slugs.optional(),
  landing_pages: Slugs.optional(),
  utm_campaigns: Slugs.optional(),
  newsletters: Slugs.optional(),
  tiers: Slugs.optional(),
  label: z.string().trim().min(1).max(100).optional(),
  thresholds: z.array(z.number().int().min(1)).min(1).max(50).optional(),
});

const StepId = z
  .string()
  .regex(/^\d{1,18}$/)
  .optional();
const Branch = z.union([z.enum(['continue', 'exit']), z.strictObject({ skip_to: z.number().int().min(1).max(100) })]);
const Test = z.union([
  z.strictObject({ engaged: z.literal(true) }),
  z.strictObject({ clicked_previous_email: z.literal(true) }),
  z.strictObject({ paid: z.literal(true) }),
  z.strictObject({ platforms: Slugs }),
  z.strictObject({ label: z.string().trim().min(1).max(100) }),
]);

export const AutomationStep = z.union([
  z.strictObject({
    id: StepId,
    type: z.literal('email'),
    subject: z.string().trim().min(1).max(300),
    markdown: z.string().min(1).max(100_000),
    preheader: z.string().max(300).optional(),
  }),
  z.strictObject({
    id: StepId,
    type: z.literal('email'),
    post_id: z.string().regex(/^\d{1,18}$/),
    subject: z.string().trim().min(1).max(300).optional(),
  }),
  z.strictObject({ id: StepId, type: z.literal('wait'), duration: z.string().max(40) }),
  z.strictObject({
    id: StepId,
    type: z.literal('wait'),
    until: z.strictObject({ weekday: z.enum(WEEKDAYS), time: z.string().max(5) }),
  }),
  z.strictObject({ id: StepId, type: z.literal('condition'), if: Test, then: Branch.optional(), else: Branch.optional() }),
  z.strictObject({ id: StepId, type: z.literal('label'), add: z.string().trim().min(1).max(100) }),
  z.strictObject({ id: StepId, type: z.literal('label'), remove: z.string().trim().min(1).max(100) }),
  z.strictObject({ id: StepId, type: z.literal('unsubscribe'), reason: z.literal('sunset') }),
]);

export const newAutomationBody = z.strictObject({
  name: Name,
  trigger: AutomationTrigger,
  steps: z.array(AutomationStep).min(1).max(50),
  status: z.enum(['draft', 'live']).optional(),
});

export const automationPatchBody = z.strictObject({
  name: Name.optional(),
  trigger: AutomationTrigger.optional(),
  steps: z.array(AutomationStep).min(1).max(50).optional(),
  status: z.enum(['draft', 'live', 'paused']).optional(),
});

export const holdBody = z.strictObject({ held: z.boolean() }).meta({ id: 'AutomationHold' });

// Answers (documented in src/web/api/openapi.ts, checked against the real answers by its test).

export const Automation = z
  .strictObject({
    id: Id,
    name: z.string(),
    trigger: AutomationTrigger,
    status: z.enum(['draft', 'live', 'paused']),
    template: z.string().nullable().meta({ description: 'The ready-made automation it was made from (e.g. sunset), if any.' }),
    steps: z.array(AutomationStep).meta({ description: 'In order; each carries its `id`, which keeps it the same step through an edit.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
    live_since: Timestamp.nullable(),
  })
  .meta({ id: 'Automation' });
export const AutomationEnvelope = z.strictObject({ automation: Automation });
export const AutomationList = z.strictObject({ automations: z.array(Automation) });
export const HoldState = z.strictObject({ held: z.boolean() });

const Counts = {
  entered: z.int(),
  emailed: z.int(),
  human_opens: z.int().meta({ description: 'Unique members; machine opens (privacy proxies) left out.' }),
  human_clicks: z.int().meta({ description: 'Unique members; scanner clicks left out.' }),
  unsubscribed: z.int(),
  exited: z.int().meta({ description: 'Members a condition sent out.' }),
};
const Retention = z.strictObject({ members: z.int(), retained: z.int(), rate: Rate });
export const AutomationStatsEnvelope = z.strictObject({
  stats: z
    .strictObject({
      ...Counts,
      active: z.int(),
      done: z.int(),
      converted_to_paid_30d: z.int().meta({ description: 'Members who started a paid subscription within 30 days of entering.' }),
      conversion_rate: Rate,
      retention_30d: z.strictObject({ with_sequence: Retention, before_sequence: Retention }).nullable().meta({
        description:
          'subscription_confirmed automations only: still subscribed 30 days after confirming, its members against those who confirmed in the 180 days before it went live.',
      }),
      steps: z.array(
        z.strictObject({
          id: Id,
          position: z.int().nullable(),
          type: z.enum(['email', 'wait', 'condition', 'label', 'unsubscribe']),
          ...Counts,
        }),
      ),
    })
    .meta({ id: 'AutomationStats' }),
});
export const AutomationPreviewEnvelope = z.strictObject({
  next: z
    .strictObject({
      status: z.enum(['active', 'done', 'exited', 'left', 'not_entered']),
      step: z.int().nullable().meta({ description: 'The next email step (1-based), when one is ahead.' }),
      at: Timestamp.nullable(),
      email: z.strictObject({ subject: z.string(), html: z.string(), text: z.string() }).nullable(),
      then: z.string().nullable().meta({ description: "When no email is ahead, what ends the member's way: end, exit, unsubscribe." }),
    })
    .meta({ id: 'AutomationPreview' }),
});
export const previewQuery = z.object({ member: Id.meta({ description: "The member's id." }) });

export function automationJson(a: AutomationRow) {
  return {
    id: a.id,
    name: a.name,
    trigger: a.trigger,
    status: a.status,
    template: a.template,
    steps: a.steps,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
    live_since: a.liveSince?.toISOString() ?? null,
  };
}

/** The admin's JSON fields (a definition pasted or edited as text), checked by the API's own schemas. */
export function parseAutomationText<T>(text: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('The definition is not valid JSON.', 'invalid_json');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`${issue.path.join('.') || 'definition'}: ${issue.message}`, 'invalid_body');
  }
  return parsed.data;
}

/** A step as one line for people: "Wait 2 days", "Email: Welcome to …". */
export function describeStep(step: Record<string, unknown>): string {
  switch (step.type) {
    case 'email':
      return 'post_id' in step ? `Email the post #${String(step.post_id)}` : `Email: “${String(step.subject)}”`;
    case 'wait':
      if ('duration' in step) return `Wait ${String(step.duration)}`;
      return `Wait until ${String((step.until as { weekday: string }).weekday)} ${String((step.until as { time: string }).time)} (site time)`;
    case 'condition': {
      const test = step.if as Record<string, unknown>;
      const what = Object.entries(test)
        .map(([k, v]) => (v === true ? k.replaceAll('_', ' ') : `${k} = ${Array.isArray(v) ? v.join(', ') : String(v)}`))
        .join(', ');
      const branch = (b: unknown, fallback: string) =>
        b === undefined ? fallback : typeof b === 'string' ? b : `skip to step ${(b as { skip_to: number }).skip_to}`;
      return `If ${what}: ${branch(step.then, 'continue')}; otherwise: ${branch(step.else, 'exit')}`;
    }
    case 'label':
      return 'add' in step ? `Add the label “${String(step.add)}”` : `Remove the label “${String(step.remove)}”`;
    case 'unsubscribe':
      return `Unsubscribe (reason: ${String(step.reason)})`;
    default:
      return String(step.type);
  }
}
