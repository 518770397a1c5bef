import type { MemberField } from '../domain/members/fields.ts';
import type { Fields } from './request-data.ts';

/**
 * Custom field inputs in a form (components/FieldInputs.astro names them `field.<key>`): the
 * values of the fields shown, '' for one left empty (which clears it). A field the form did not
 * show is left out, so it keeps its value.
 */
export function fieldValuesFromForm(form: Fields, shown: readonly MemberField[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const f of shown) if (form.has(`field.${f.key}`)) values[f.key] = form.get(`field.${f.key}`).trim();
  return values;
}
