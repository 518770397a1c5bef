import { ValidationError } from '../lib/errors.ts';
import { zonedToInstant } from '../lib/time-zone.ts';

/** The segment fields of the admin's send form (components/SegmentFields.astro). */
export function segmentFromForm(form: { get(name: string): string; getAll(name: string): string[] }) {
  const all = (name: string) =>
    form
      .getAll(name)
      .map((v) => v.trim())
      .filter(Boolean);
  // Custom fields: segfield.<key> (equals) for each listed segfield_key, segfield_set (has a value).
  const fields = [
    ...all('segfield_key').flatMap((key) => {
      const value = form.get(`segfield.${key}`).trim();
      return value ? [{ key, equals: value }] : [];
    }),
    ...all('segfield_set').map((key) => ({ key, set: true as const })),
  ];
  return {
    newsletters: all('newsletters'),
    tiers: all('tiers'),
    labels: all('labels'),
    platforms: all('platforms'),
    engagement: form.get('engagement') || 'any',
    ...(fields.length ? { fields } : {}),
  };
}

/**
 * A "datetime-local" value (no zone) read in the site's time zone, which is what the form says;
 * empty → undefined. A time skipped by a change to summer time lands just after the gap.
 */
export function sendAtFromForm(value: string, zone: string): Date | undefined {
  if (!value) return undefined;
  const at = zonedToInstant(value, zone);
  if (!at) throw new ValidationError('Choose a date and time to send.', 'invalid_send_at');
  return at;
}

/** The undo window from the form; empty → the default. */
export function undoFromForm(value: string): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ValidationError('The undo window is a whole number of seconds.', 'invalid_undo');
  return n;
}

/** The admin offers these waits (the API takes any ISO-8601 duration up to P7D). */
export const TEST_WAITS = [
  ['PT30M', '30 minutes'],
  ['PT1H', '1 hour'],
  ['PT2H', '2 hours'],
  ['PT4H', '4 hours'],
  ['PT8H', '8 hours'],
  ['P1D', '1 day'],
  ['P3D', '3 days'],
] as const;

/**
 * The subject test of the send form: the post's title is the first subject line, the extra
 * lines filled in are the others; none filled in → no test. The sample is asked for in percent.
 */
export function subjectTestFromForm(
  form: { get(name: string): string; getAll(name: string): string[] },
  title: string,
): { subjects?: string[]; test?: { sample: number; wait: string } } {
  const extra = form
    .getAll('subject_extra')
    .map((v) => v.trim())
    .filter(Boolean);
  if (extra.length === 0) return {};
  const percent = form.get('test_sample_percent').trim();
  const sample = percent === '' ? NaN : Number(percent) / 100;
  if (!Number.isFinite(sample)) throw new ValidationError('The sample is a percentage of the segment, like 20.', 'invalid_sample');
  return { subjects: [title, ...extra], test: { sample, wait: form.get('test_wait') || 'PT4H' } };
}
