import type { MemberStatus } from '../../db/types.ts';
import { MEMBER_STATUSES, type MemberFilter } from '../domain/members/list.ts';
import { isPlatform } from '../domain/members/sources.ts';
import type { FieldCondition } from '../domain/members/fields.ts';
import { DEFAULT_MEMBER_SORT, FIRST_DIRECTION, MEMBER_SORT_KEYS, type MemberSort, type MemberSortKey } from '../domain/members/sort.ts';
import { ValidationError } from '../lib/errors.ts';

/** Reads a filter from query parameters (the admin's form and the API share it). */
export function parseMemberFilter(params: URLSearchParams): MemberFilter {
  const text = (name: string, max = 200) => {
    const v = params.get(name)?.trim();
    return v ? v.slice(0, max) : undefined;
  };
  const date = (name: string, endOfDay: boolean) => {
    const v = text(name, 40);
    if (!v) return undefined;
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z` : v);
    if (Number.isNaN(d.getTime())) throw new ValidationError(`${name} must be a date like 2026-01-31.`, 'invalid_filter');
    return d;
  };
  const status = text('status');
  if (status && !MEMBER_STATUSES.includes(status as MemberStatus)) {
    throw new ValidationError(`status must be one of ${MEMBER_STATUSES.join(', ')}.`, 'invalid_filter');
  }
  const platform = text('platform');
  if (platform && !isPlatform(platform)) throw new ValidationError(`There is no platform called "${platform}".`, 'invalid_filter');
  // Custom fields: `field.<key>=<value>` (equals) and `field_set=<key>` (has a value), repeatable.
  const fields: FieldCondition[] = [];
  for (const [name, raw] of params) {
    const value = raw.trim().slice(0, 200);
    if (name.startsWith('field.') && value !== '') fields.push({ key: fieldKey(name.slice(6)), equals: value });
    if (name === 'field_set' && value !== '') fields.push({ key: fieldKey(value), set: true });
  }
  if (fields.length > 10) throw new ValidationError('Filter on at most 10 fields at once.', 'invalid_filter');
  return {
    query: text('query'),
    status: status as MemberStatus | undefined,
    newsletter: text('newsletter'),
    tier: text('tier'),
    label: text('label'),
    platform,
    createdFrom: date('created_from', false),
    createdTo: date('created_to', true),
    ...(fields.length ? { fields } : {}),
  };
}

function fieldKey(key: string): string {
  if (!/^[a-z][a-z0-9_]{0,39}$/.test(key)) throw new ValidationError(`"${key.slice(0, 40)}" is not a field key.`, 'invalid_filter');
  return key;
}

/** The filter back as query parameters (for links to the next page, the export, the count). */
export function filterToParams(filter: MemberFilter): URLSearchParams {
  const p = new URLSearchParams();
  if (filter.query) p.set('query', filter.query);
  if (filter.status) p.set('status', filter.status);
  if (filter.newsletter) p.set('newsletter', filter.newsletter);
  if (filter.tier) p.set('tier', filter.tier);
  if (filter.label) p.set('label', filter.label);
  if (filter.platform) p.set('platform', filter.platform);
  if (filter.createdFrom) p.set('created_from', filter.createdFrom.toISOString());
  if (filter.createdTo) p.set('created_to', filter.createdTo.toISOString());
  for (const f of filter.fields ?? []) {
    if ('set' in f) p.append('field_set', f.key);
    else p.append(`field.${f.key}`, f.equals);
  }
  return p;
}

export function isEmptyFilter(filter: MemberFilter): boolean {
  return filterToParams(filter).toString() === '';
}

/**
 * The members table's order from `sort` (a column) and `dir` (asc or desc); none: newest first.
 * Only the listed columns sort (each has an index: domain/members/sort.ts); anything else is a
 * 400 with the list of what does.
 */
export function parseMemberSort(params: URLSearchParams): MemberSort {
  const key = params.get('sort')?.trim() || DEFAULT_MEMBER_SORT.key;
  if (!(MEMBER_SORT_KEYS as readonly string[]).includes(key)) {
    throw new ValidationError(
      `The list cannot be sorted by "${key.slice(0, 40)}"; sort by one of ${MEMBER_SORT_KEYS.join(', ')}.`,
      'invalid_sort',
    );
  }
  const dir = params.get('dir')?.trim() || FIRST_DIRECTION[key as MemberSortKey];
  if (dir !== 'asc' && dir !== 'desc') throw new ValidationError('dir must be asc or desc.', 'invalid_sort');
  return { key: key as MemberSortKey, dir };
}
