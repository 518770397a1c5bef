import { z } from 'zod';
import { ID_PATTERN } from '../../lib/ids.ts';

/** Building blocks of the API's zod schemas (requests and responses). */

/** A row id: a bigint as a decimal string. */
export const Id = z
  .string()
  .regex(new RegExp(`^${ID_PATTERN}$`))
  .meta({ description: 'A row id (a decimal string).', example: '42' });

/** An ISO 8601 UTC timestamp as JavaScript writes it (`toISOString()`). */
export const Timestamp = z.iso.datetime().meta({ example: '2026-03-01T09:30:00.000Z' });

/** A day, `YYYY-MM-DD`. */
export const Day = z.iso.date();

/** A page's `next`: the cursor to pass as `?after=`, or null on the last page. */
export const Next = z.string().nullable().meta({ description: 'Pass as `after` for the next page; null on the last page.' });

/** `{"error":{"code","message"}}`: every 4xx (and the rare 500) of the API. */
export const ApiError = z
  .strictObject({ error: z.strictObject({ code: z.string().meta({ example: 'invalid_body' }), message: z.string() }) })
  .meta({ id: 'Error', description: 'A refused request: a stable code to branch on and a message to show.' });

/** A rate, or null when there is nothing to divide by. */
export const Rate = z.number().nullable();
