import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database, MemberFieldType, MemberFieldValue, MemberFieldValues } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';

/**
 * Custom member fields: what staff ask members beyond name and email (a city, a birthday, a
 * favourite format, "happy to be quoted?"). A field has a key (the slug the API, CSV columns and
 * filters use), a label, a type, options for a choice, whether members may fill it from their
 * account, and an order. Archiving hides a field from forms and exports but keeps its values.
 *
 * Values live in members.fields (jsonb, migration 0032): `{key: value}` where text, choice and
 * date (YYYY-MM-DD) are strings, a number a JSON number and yes/no a JSON boolean. A value is
 * checked against its field's type here, on every way in (API, admin form, account page, import).
 */
export const FIELD_TYPES: readonly MemberFieldType[] = ['text', 'number', 'date', 'choice', 'boolean'];

export interface MemberField {
  id: string;
  key: string;
  label: string;
  type: MemberFieldType;
  options: string[];
  memberEditable: boolean;
  sortOrder: number;
  archivedAt: Date | null;
  createdAt: Date;
}

export interface FieldInput {
  key: string;
  label: string;
  type: string;
  options?: string[] | undefined;
  memberEditable?: boolean | undefined;
  sortOrder?: number | undefined;
}

export interface FieldPatch {
  label?: string | undefined;
  options?: string[] | undefined;
  memberEditable?: boolean | undefined;
  sortOrder?: number | undefined;
  /** false brings an archived field back. */
  archived?: boolean | undefined;
}

const KEY = /^[a-z][a-z0-9_]{0,39}$/;
/**
 * Keys a field may not take: the members CSV's own columns (an export's header row must name
 * each column once, and an import must know which column is which) and the Member JSON's keys.
 */
const RESERVED = new Set([
  'id', 'email', 'name', 'status', 'tier', 'newsletters', 'labels', 'platform', 'utm_source', 'utm_medium',
  'utm_campaign', 'referrer', 'ref', 'referral_code', 'referrals', 'created_at', 'confirmed_at', 'notes', 'access',
  'access_until', 'stripe_customer_id', 'source', 'fields', 'language', 'first_name', 'last_name', 'tags', 'plan',
]); // prettier-ignore
const MAX_FIELDS = 50;
const MAX_OPTIONS = 50;
export const MAX_TEXT = 500;

const COLUMNS = ['id', 'key', 'label', 'type', 'options', 'member_editable', 'sort_order', 'archived_at', 'created_at'] as const;

function toField(r: {
  id: string;
  key: string;
  label: string;
  type: MemberFieldType;
  options: string[];
  member_editable: boolean;
  sort_order: number;
  archived_at: Date | null;
  created_at: Date;
}): MemberField {
  return {
    id: r.id,
    key: r.key,
    label: r.label,
    type: r.type,
    options: r.options,
    memberEditable: r.member_editable,
    sortOrder: r.sort_order,
    archivedAt: r.archived_at,
    createdAt: r.created_at,
  };
}

/** Fields in their order; archived ones only when asked. */
export async function listFields(db: Kysely<Database>, options: { archived?: boolean } = {}): Promise<MemberField[]> {
  const rows = await db
    .selectFrom('member_fields')
    .select(COLUMNS)
    .$if(!options.archived, (q) => q.where('archived_at', 'is', null))
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
  return rows.map(toField);
}

export async function getField(db: Kysely<Database>, key: string): Promise<MemberField> {
  const row = KEY.test(key) ? await db.selectFrom('member_fields').select(COLUMNS).where('key', '=', key).executeTakeFirst() : undefined;
  if (!row) throw new NotFoundError(`There is no field "${key.slice(0, 40)}".`, 'field_not_found');
  return toField(row);
}

function cleanLabel(label: string): string {
  const l = label.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (l === '' || l.length > 100) throw new ValidationError('A field needs a label of 1 to 100 characters.', 'invalid_field');
  return l;
}

function cleanOptions(type: MemberFieldType, options: string[] | undefined): string[] {
  if (type !== 'choice') {
    if (options?.length) throw new ValidationError('Only a choice field has options.', 'invalid_field');
    return [];
  }
  const seen = new Map<string, string>();
  for (const raw of options ?? []) {
    const o = raw.replace(/[\u0000-\u001f\u007f]/g, '').trim();
    if (o === '') continue;
    if (o.length > 100) throw new ValidationError('An option has at most 100 characters.', 'invalid_field');
    if (!seen.has(o.toLowerCase())) seen.set(o.toLowerCase(), o);
  }
  if (seen.size < 1 || seen.size > MAX_OPTIONS)
    throw new ValidationError(`A choice field needs 1 to ${MAX_OPTIONS} different options.`, 'invalid_field');
  return [...seen.values()];
}

function cleanOrder(order: number | undefined): number | undefined {
  if (order === undefined) return undefined;
  if (!Number.isInteger(order) || order < 0 || order > 10_000)
    throw new ValidationError('order is a whole number from 0 to 10000.', 'invalid_field');
  return order;
}

export async function createField(db: Kysely<Database>, input: FieldInput): Promise<MemberField> {
  const key = input.key.trim();
  if (!KEY.test(key))
    throw new ValidationError(
      'A field key starts with a lower-case letter and has up to 40 lower-case letters, digits and underscores.',
      'invalid_field',
    );
  if (RESERVED.has(key)) throw new ValidationError(`"${key}" is a member column already; choose another key.`, 'invalid_field');
  if (!(FIELD_TYPES as readonly string[]).includes(input.type))
    throw new ValidationError(`type must be one of ${FIELD_TYPES.join(', ')}.`, 'invalid_field');
  const type = input.type as MemberFieldType;
  const label = cleanLabel(input.label);
  const options = cleanOptions(type, input.options);
  const order = cleanOrder(input.sortOrder);
  return db.transaction().execute(async (trx) => {
    const count = await trx
      .selectFrom('member_fields')
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_FIELDS) throw new ConflictError(`A site has at most ${MAX_FIELDS} fields.`, 'too_many_fields');
    const row = await trx
      .insertInto('member_fields')
      .values({
        key,
        label,
        type,
        options,
        member_editable: input.memberEditable ?? false,
        sort_order: order ?? Number(count.n),
      })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (!row) throw new ConflictError(`A field with the key "${key}" exists already (perhaps archived).`, 'field_exists');
    return toField(row);
  });
}

/** Changes a field; its key and type never change (the stored values depend on them). */
export async function updateField(db: Kysely<Database>, key: string, patch: FieldPatch): Promise<MemberField> {
  const field = await getField(db, key);
  const set: Record<string, unknown> = {};
  if (patch.label !== undefined) set.label = cleanLabel(patch.label);
  if (patch.options !== undefined) set.options = cleanOptions(field.type, patch.options);
  if (patch.memberEditable !== undefined) set.member_editable = patch.memberEditable;
  if (patch.sortOrder !== undefined) set.sort_order = cleanOrder(patch.sortOrder);
  if (patch.archived !== undefined) set.archived_at = patch.archived ? (field.archivedAt ?? new Date()) : null;
  if (Object.keys(set).length === 0) return field;
  const row = await db
    .updateTable('member_fields')
    .set({ ...set, updated_at: new Date() })
    .where('key', '=', key)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toField(row);
}

export async function archiveField(db: Kysely<Database>, key: string): Promise<MemberField> {
  return updateField(db, key, { archived: true });
}

/**
 * One value checked against its field: the value to store, or null to clear it (null, '' or an
 * absent form field). Throws a ValidationError that says which field and why.
 */
export function parseFieldValue(field: Pick<MemberField, 'key' | 'label' | 'type' | 'options'>, raw: unknown): MemberFieldValue | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const bad = (why: string) =>
    new ValidationError(`fields.${field.key} ${why}`, 'invalid_field_value').with({
      label: field.label,
      type: field.type,
      options: field.options.join(', '),
      max: MAX_TEXT,
    });
  switch (field.type) {
    case 'text': {
      if (typeof raw !== 'string') throw bad('must be text.');
      const v = raw.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '').trim();
      if (v.length > MAX_TEXT) throw bad(`has at most ${MAX_TEXT} characters.`);
      return v === '' ? null : v;
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(n) || Math.abs(n) > 1e15) throw bad('must be a number.');
      return n;
    }
    case 'date': {
      if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw.trim())) throw bad('must be a date like 2026-01-31.');
      const v = raw.trim();
      const d = new Date(`${v}T00:00:00Z`);
      if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) throw bad('must be a real date like 2026-01-31.');
      return v;
    }
    case 'choice': {
      if (typeof raw !== 'string') throw bad(`must be one of ${field.options.join(', ')}.`);
      const v = field.options.find((o) => o.toLowerCase() === raw.trim().toLowerCase());
      if (v === undefined) throw bad(`must be one of ${field.options.join(', ')}.`);
      return v;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string') {
        const s = raw.trim().toLowerCase();
        if (['true', 'yes', '1', 'on'].includes(s)) return true;
        if (['false', 'no', '0', 'off'].includes(s)) return false;
      }
      throw bad('must be true or false.');
    }
  }
}

/** Values to write and keys to clear, from `{key: value}` (null clears). */
export interface FieldChanges {
  set: MemberFieldValues;
  unset: string[];
}

/**
 * Checks `{key: value}` against the defined fields. An unknown or archived key is an error;
 * `editableOnly` (a member's own account) also refuses fields members may not edit.
 */
export function checkFieldValues(
  fields: MemberField[],
  input: Record<string, unknown>,
  options: { editableOnly?: boolean } = {},
): FieldChanges {
  const byKey = new Map(fields.filter((f) => f.archivedAt === null).map((f) => [f.key, f]));
  const changes: FieldChanges = { set: {}, unset: [] };
  for (const [key, raw] of Object.entries(input)) {
    const field = byKey.get(key);
    if (!field) throw new ValidationError(`There is no field "${key.slice(0, 40)}".`, 'unknown_field');
    if (options.editableOnly && !field.memberEditable)
      throw new ValidationError(`${field.label} is not yours to change.`, 'field_not_editable').with({ label: field.label });
    const value = parseFieldValue(field, raw);
    if (value === null) changes.unset.push(key);
    else changes.set[key] = value;
  }
  return changes;
}

export function hasChanges(changes: FieldChanges): boolean {
  return Object.keys(changes.set).length > 0 || changes.unset.length > 0;
}

/** Writes checked values on one member (one statement); true when something changed. */
export async function writeMemberFields(db: Kysely<Database>, memberId: string, changes: FieldChanges): Promise<boolean> {
  if (!hasChanges(changes)) return false;
  const result = await sql`
    update members set fields = (fields || ${JSON.stringify(changes.set)}::jsonb) - ${changes.unset}::text[], updated_at = now()
    where id = ${memberId} and fields is distinct from ((fields || ${JSON.stringify(changes.set)}::jsonb) - ${changes.unset}::text[])`.execute(
    db,
  );
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** A field filter: `equals` a value, or `set` (has any value). */
export type FieldCondition = { key: string; equals: string } | { key: string; set: true };

/**
 * The WHERE part of field conditions over `members as m`. Each is a jsonb containment (`@>`) or
 * key-exists (`?`) test, which the GIN index members_fields_idx answers with a bitmap scan
 * instead of reading every member (bench/member-fields.ts). A filter value comes from a query
 * string without its field's type, so every typed reading of it is tried: "12" matches the
 * number 12 and the text "12", "true" the yes/no true and the text "true".
 */
export function fieldWhere(conditions: readonly FieldCondition[]) {
  return (eb: ExpressionBuilder<Database & { m: Database['members'] }, 'm'>): Expression<SqlBool> => {
    const parts: Expression<SqlBool>[] = conditions.map((c) => {
      if ('set' in c) return sql<SqlBool>`m.fields ? ${c.key}`;
      const readings: MemberFieldValue[] = [c.equals];
      if (/^-?\d+(\.\d+)?$/.test(c.equals)) readings.push(Number(c.equals));
      if (['true', 'yes'].includes(c.equals.toLowerCase())) readings.push(true);
      if (['false', 'no'].includes(c.equals.toLowerCase())) readings.push(false);
      return eb.or(readings.map((v) => sql<SqlBool>`m.fields @> ${JSON.stringify({ [c.key]: v })}::jsonb`));
    });
    return eb.and(parts);
  };
}

/** How a value reads for people (CSV cells, the admin, the account page). */
export function formatFieldValue(value: MemberFieldValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** One member's stored values. */
export async function memberFieldValues(db: Kysely<Database>, memberId: string): Promise<MemberFieldValues> {
  const row = await db.selectFrom('members').select('fields').where('id', '=', memberId).executeTakeFirst();
  return row?.fields ?? {};
}
