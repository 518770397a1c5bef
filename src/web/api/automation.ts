import { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';
import type { AutomationRow } from '../../domain/automations/automations.ts';
import { TRIGGER_TYPES, WEEKDAYS } from '../../domain/automations/definitions.ts';

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

export const holdBody = z.strictObject({ held: z.boolean() });

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
