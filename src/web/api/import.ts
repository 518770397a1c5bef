import { z } from 'zod';
import { importView, type ImportRecord } from '../../domain/imports/pipeline.ts';
import { Id, Timestamp } from './schema.ts';

/** The imports API's contract (DESIGN.md "Admin API v1"): the Import shape and its one serializer. */

export const Import = z
  .strictObject({
    id: Id,
    status: z.enum(['uploaded', 'queued', 'running', 'done', 'failed']),
    rows: z.int(),
    imported: z.int(),
    updated: z.int(),
    rejected: z.int(),
    format: z
      .string()
      .meta({ description: 'The format asked for, or the one detected: auto, generic, mailchimp, substack, ghost, beehiiv or kit.' }),
    filename: z.string(),
    progress: z.number().min(0).max(1),
    error: z.string().nullable(),
    created_at: Timestamp,
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'Import' });

export type ImportJson = z.infer<typeof Import>;

export const ImportEnvelope = z.strictObject({ import: Import });

export function importJson(record: ImportRecord): ImportJson {
  return {
    id: record.id,
    status: record.status,
    rows: record.rows,
    imported: record.imported,
    updated: record.updated,
    rejected: record.rejected,
    format: record.format,
    filename: record.filename,
    // How far along the import is stays the pipeline's rule (reading is 90%, the merge the rest).
    progress: Number(importView(record).progress),
    error: record.error,
    created_at: record.created_at.toISOString(),
    finished_at: record.finished_at?.toISOString() ?? null,
  };
}
