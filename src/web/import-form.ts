import type { ImportOptions, PlanChoice } from '../domain/imports/pipeline.ts';
import { isImportFormat } from '../domain/imports/formats.ts';
import { ValidationError } from '../lib/errors.ts';
import { field, type Fields } from './request-data.ts';

/**
 * The admin's import form → the import's options. The column mapping comes as one select per
 * column (`col:<index>` → a field name or `ignore`), the plan mapping as `plan:<n>` (the source
 * plan), `plan_tier:<n>` and `plan_access:<n>`.
 */
export function importOptionsFromForm(form: Fields, headers: readonly string[]): ImportOptions {
  const format = field(form, 'format');
  const consent = field(form, 'consent');
  // Junk from a hand-made request is a 400 naming the field, not a guess.
  if (format !== '' && format !== 'auto' && !isImportFormat(format))
    throw new ValidationError(`Unknown format "${format.slice(0, 40)}".`, 'invalid_format');
  if (!['send_confirmation', 'confirmed', 'pending'].includes(consent))
    throw new ValidationError('Choose how these members consented (confirmation email, confirmed, or unconfirmed).', 'invalid_consent');
  const mapping: Record<string, string> = {};
  if (form.has('col:0')) {
    headers.forEach((header, i) => {
      const choice = field(form, `col:${i}`);
      if (choice !== '' && !(header in mapping)) mapping[header] = choice;
    });
  }
  const plans: Record<string, PlanChoice> = {};
  for (let n = 0; n < 200 && form.has(`plan:${n}`); n++) {
    const plan = form.get(`plan:${n}`);
    const tier = field(form, `plan_tier:${n}`);
    const access = field(form, `plan_access:${n}`);
    if (plan === '' || tier === '') continue;
    const kind = access === 'paid' || access === 'comp' || access === 'gift' ? access : undefined;
    // One plan listed twice (Ghost's Gold tier, paid by some and comped for others): each member
    // keeps the access the source gives them.
    const earlier = plans[plan];
    plans[plan] = kind === undefined || (earlier !== undefined && earlier.access !== kind) ? { tier } : { tier, access: kind };
  }
  const encoding = field(form, 'encoding');
  return {
    format: isImportFormat(format) ? format : 'auto',
    newsletterSlug: field(form, 'newsletter') || null,
    markConfirmed: consent === 'confirmed',
    attestation: field(form, 'attestation') || null,
    sendConfirmation: consent === 'send_confirmation',
    preview: field(form, 'preview') === '1',
    confirmFree: field(form, 'confirm_free') === '1',
    mapping: Object.keys(mapping).length > 0 ? mapping : undefined,
    plans,
    encoding: encoding === 'windows-1252' || encoding === 'utf-8' ? encoding : undefined,
  };
}
