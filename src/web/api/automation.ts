import { z } from 'zod';
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
