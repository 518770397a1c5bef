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
