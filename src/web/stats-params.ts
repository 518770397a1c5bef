import type { OverviewOptions } from '../domain/stats/read.ts';
import { isPlatform } from '../domain/members/sources.ts';
import { ValidationError } from '../lib/errors.ts';
import { isId } from '../lib/ids.ts';

/** The query parameters of the stats pages, their CSV downloads and /api/v1/stats/*. */

/** `?days=` of the overview: 7 to 730, default 90; anything else is a 400. */
export function parseOverviewParams(params: URLSearchParams): OverviewOptions {
  const raw = params.get('days');
  if (raw === null || raw === '') return { days: 90 };
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 7 || Number(raw) > 730)
    throw new ValidationError('days must be a whole number from 7 to 730.', 'invalid_days');
  return { days: Number(raw) };
}

/** `?platform=` of the cohorts: a known platform, or none for every platform. */
export function parseCohortParams(params: URLSearchParams): { platform: string } {
  const platform = (params.get('platform') ?? '').trim();
  if (platform !== '' && !isPlatform(platform))
    throw new ValidationError(`There is no platform called "${platform.slice(0, 40)}".`, 'invalid_platform');
  return { platform };
}

/** An id from the path: anything but an id is a 400 naming what was expected. */
export function parseId(raw: string | undefined, what = 'id'): string {
  if (!raw || !isId(raw)) throw new ValidationError(`The ${what} is not valid.`, 'invalid_id');
  return raw;
}
