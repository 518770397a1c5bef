import { ValidationError } from '../../lib/errors.ts';
import { offsetMinutes, zonedToInstant } from '../../lib/time-zone.ts';

/**
 * What an automation is made of, and the rules a definition must keep to be saved (pure: no
 * database, no clock). The API's request schema (web/api/automation.ts) gives the shapes; the
 * rules here are the ones a shape cannot say: a skip goes forward only (a loop would email a
 * member twice), a wait is at most a year, a step number exists.
 */
export const TRIGGER_TYPES = [
  'subscription_confirmed',
  'became_paid',
  'paid_ended',
  'went_cold',
  'referral_milestone',
  'label_added',
] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

export interface Trigger {
  type: TriggerType;
  /** subscription_confirmed: the member's first touch (source platform) is one of these. */
  platforms?: string[] | undefined;
  /** subscription_confirmed: the landing page path they subscribed from (`/join/tiktok`). */
  landing_pages?: string[] | undefined;
  /** subscription_confirmed: their utm_campaign. */
  utm_campaigns?: string[] | undefined;
  /** subscription_confirmed: they confirmed one of these newsletters (slugs). */
  newsletters?: string[] | undefined;
  /** became_paid, paid_ended: the tier (slugs). */
  tiers?: string[] | undefined;
  /** label_added: the label's name. */
  label?: string | undefined;
  /** referral_milestone: the milestones' thresholds (referrals counted); any when omitted. */
  thresholds?: number[] | undefined;
}

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** What a condition asks of the member, at the moment they reach it. */
export type Test = { engaged: true } | { clicked_previous_email: true } | { paid: true } | { platforms: string[] } | { label: string };

/** Where a member goes after a condition: the next step, a later step (1-based), or out. */
export type Branch = 'continue' | 'exit' | { skip_to: number };

export type Step =
  | { type: 'email'; subject: string; markdown: string; preheader?: string | undefined }
  | { type: 'email'; post_id: string; subject?: string | undefined }
  | { type: 'wait'; duration: string }
  | { type: 'wait'; until: { weekday: Weekday; time: string } }
  | { type: 'condition'; if: Test; then?: Branch | undefined; else?: Branch | undefined }
  | { type: 'label'; add: string }
  | { type: 'label'; remove: string }
  | { type: 'unsubscribe'; reason: 'sunset' };

export interface AutomationDefinition {
  name: string;
  trigger: Trigger;
  steps: Step[];
}

export const MAX_WAIT_SECONDS = 365 * 86_400;
export const MAX_STEPS = 50;

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * An ISO-8601 duration in seconds (`P2D`, `PT6H`, `PT30S`, `P1Y`). A year counts 365 days and a
 * month 30: a wait is a span, not a calendar date. Undefined when the text is not a duration.
 */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [y, mo, w, d, h, mi, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number, number];
  return y * 365 * 86_400 + mo * 30 * 86_400 + w * 7 * 86_400 + d * 86_400 + h * 3600 + mi * 60 + s;
}

export const isEmailStep = (step: Step): boolean => step.type === 'email';

/** The steps a condition's branch can name: a later step, or one past the last (the end). */
function checkBranch(branch: Branch | undefined, at: number, count: number): void {
  if (branch === undefined || typeof branch === 'string') return;
  const to = branch.skip_to;
  if (!Number.isInteger(to) || to < 1 || to > count + 1)
    throw new ValidationError(`Step ${at}: skip_to ${to} is not a step of this automation (1–${count}).`, 'invalid_step');
  if (to <= at)
    throw new ValidationError(
      `Step ${at}: skip_to ${to} goes back, which is a loop: a member would reach the same steps (and emails) twice. Skips go forward only.`,
      'automation_loop',
    );
}

/**
 * The rules of a definition that do not need the database. Labels named by conditions are checked
 * against the labels table by the caller (automations.ts), posts likewise.
 */
export function checkDefinition(def: AutomationDefinition): void {
  if (def.steps.length === 0) throw new ValidationError('An automation needs at least one step.', 'no_steps');
  if (def.steps.length > MAX_STEPS) throw new ValidationError(`An automation has at most ${MAX_STEPS} steps.`, 'too_many_steps');
  if (def.trigger.type === 'label_added' && !def.trigger.label?.trim())
    throw new ValidationError('A "label added" trigger names its label.', 'invalid_trigger');
  def.steps.forEach((step, i) => {
    const at = i + 1;
    if (step.type === 'wait') {
      if ('duration' in step) {
        const seconds = durationSeconds(step.duration);
        if (seconds === undefined)
          throw new ValidationError(
            `Step ${at}: "${step.duration.slice(0, 40)}" is not an ISO-8601 duration (e.g. P2D, PT6H, PT30S).`,
            'invalid_duration',
          );
        if (seconds <= 0) throw new ValidationError(`Step ${at}: a wait must be longer than zero.`, 'invalid_duration');
        if (seconds > MAX_WAIT_SECONDS)
          throw new ValidationError(`Step ${at}: a wait is at most a year (P1Y); got ${step.duration}.`, 'wait_too_long');
      } else if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(step.until.time)) {
        throw new ValidationError(`Step ${at}: the time "${step.until.time.slice(0, 10)}" is not HH:MM.`, 'invalid_time');
      }
    }
    if (step.type === 'condition') {
      checkBranch(step.then, at, def.steps.length);
      checkBranch(step.else, at, def.steps.length);
      if ('clicked_previous_email' in step.if && !def.steps.slice(0, i).some(isEmailStep))
        throw new ValidationError(`Step ${at}: "clicked the previous email" needs an email step before it.`, 'invalid_condition');
    }
  });
}

/** The labels a definition's conditions read (they must exist). */
export function labelsRead(def: AutomationDefinition): string[] {
  return def.steps.flatMap((s) => (s.type === 'condition' && 'label' in s.if ? [s.if.label] : []));
}

/** Where a condition sends a member: an index into the steps (steps.length: the end), or exit. */
export function branchTarget(branch: Branch, index: number): number | 'exit' {
  if (branch === 'exit') return 'exit';
  if (branch === 'continue') return index + 1;
  return branch.skip_to - 1;
}

/**
 * The next time the site's wall clock shows `weekday` at `time` (HH:MM), strictly after `after`.
 * Computed in the site's time zone (lib/time-zone.ts), so "Monday 09:00" stays 09:00 across a
 * change of offset.
 */
export function nextWeekdayTime(after: Date, until: { weekday: Weekday; time: string }, zone: string): Date {
  const local = new Date(after.getTime() + offsetMinutes(after, zone) * 60_000);
  const today = (local.getUTCDay() + 6) % 7; // 0 = Monday
  const want = WEEKDAYS.indexOf(until.weekday);
  for (const add of [0, 7]) {
    const day = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + ((want - today + 7) % 7) + add));
    const text = `${day.toISOString().slice(0, 10)}T${until.time}`;
    const at = zonedToInstant(text, zone);
    if (at && at.getTime() > after.getTime()) return at;
  }
  throw new Error('unreachable: a weekday and time recur within a week');
}
