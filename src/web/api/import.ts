import { z } from 'zod';
import { describeMapping, unmappedColumns, type ColumnMapping } from '../../domain/imports/formats.ts';
import { importView, type ImportChange, type ImportRecord } from '../../domain/imports/pipeline.ts';
import { Id, Timestamp } from './schema.ts';

/** The imports API's contract (DESIGN.md "Admin API v1"): the Import shape and its one serializer. */

const Summary = z
  .object({
    rows: z.int(),
    new_members: z.int(),
    existing_members: z.int(),
    duplicates: z.int(),
    changes: z.record(z.string(), z.int()).meta({
      description:
        'Existing members whose state changes, by change: unsubscribed, bounced, complained, blocked, access, kept_left, kept_newer.',
    }),
    plans: z.array(z.object({ plan: z.string(), access: z.string(), rows: z.int(), tier: z.string().nullable() })),
    paying_as_free: z.int(),
    needs_confirmation: z.boolean(),
    messages: z.array(z.string()),
  })
  .meta({ id: 'ImportSummary' });

export const Import = z
  .strictObject({
    id: Id,
    status: z.enum(['uploaded', 'queued', 'running', 'previewed', 'done', 'failed']),
    rows: z.int(),
    imported: z.int(),
    updated: z.int(),
    rejected: z.int(),
    format: z.string().meta({
      description: 'The format asked for, or the one detected: generic, mailchimp, substack, ghost, beehiiv, kit, listmonk or hearth.',
    }),
    encoding: z.enum(['utf-8', 'windows-1252']),
    filename: z.string(),
    progress: z.number().min(0).max(1),
    error: z.string().nullable(),
    mapping: z.array(z.object({ field: z.string(), column: z.string() })),
    unmapped_columns: z.array(z.string()),
    summary: Summary.nullable().meta({ description: 'What the import will do (previewed) or did (done).' }),
    created_at: Timestamp,
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'Import' });

export type ImportJson = z.infer<typeof Import>;

export const ImportEnvelope = z.strictObject({ import: Import });

export const ImportChangeJson = z.strictObject({
  email: z.string(),
  member_id: Id.nullable(),
  change: z.string(),
  detail: z.string().nullable(),
});
export const ImportChangesEnvelope = z.strictObject({ changes: z.array(ImportChangeJson), next: z.string().nullable() });

export function importChangeJson(change: ImportChange): z.infer<typeof ImportChangeJson> {
  return { email: change.email, member_id: change.member_id, change: change.change, detail: change.detail };
}

export function importJson(record: ImportRecord): ImportJson {
  const mapping = record.mapping as unknown as ColumnMapping;
  const mapped = typeof mapping.email === 'number';
  return {
    id: record.id,
    status: record.status,
    rows: record.rows,
    imported: record.imported,
    updated: record.updated,
    rejected: record.rejected,
    format: record.format,
    encoding: record.encoding === 'windows-1252' ? 'windows-1252' : 'utf-8',
    filename: record.filename,
    // How far along the import is stays the pipeline's rule (reading is 90%, the merge the rest).
    progress: Number(importView(record).progress),
    error: record.error,
    mapping: mapped ? describeMapping(mapping, record.headers) : [],
    unmapped_columns: mapped ? unmappedColumns(mapping, record.headers) : [],
    summary: (record.summary as z.infer<typeof Summary> | null) ?? null,
    created_at: record.created_at.toISOString(),
    finished_at: record.finished_at?.toISOString() ?? null,
  };
}

const PlanChoiceJson = z.strictObject({ tier: z.string().max(63), access: z.enum(['paid', 'comp', 'gift']).optional() });

/** Options of an import, as JSON (POST /api/v1/imports/:id/start) or as multipart fields holding JSON (mapping, plans). */
export const importOptionsBody = z
  .strictObject({
    format: z.enum(['auto', 'generic', 'mailchimp', 'substack', 'ghost', 'beehiiv', 'kit', 'listmonk', 'hearth']).optional(),
    newsletter: z.string().max(63).nullable().optional(),
    mark_confirmed: z.boolean().optional(),
    attestation: z.string().max(2000).nullable().optional(),
    send_confirmation: z.boolean().optional(),
    preview: z.boolean().optional().meta({ description: 'Read and plan only: the import stops at previewed with its summary.' }),
    mapping: z
      .record(z.string().max(200), z.string().max(40))
      .optional()
      .meta({ description: 'Manual column mapping: header → field (email, name, first_name, …, notes, plan, or ignore).' }),
    plans: z
      .record(z.string().max(100), PlanChoiceJson)
      .optional()
      .meta({ description: 'Source plan (or tag:<label>) → {"tier": slug, "access": "paid|comp|gift"}.' }),
    confirm_free: z.boolean().optional().meta({ description: 'Import paying members of unmapped plans as free.' }),
    encoding: z.enum(['utf-8', 'windows-1252']).optional(),
  })
  .meta({ id: 'ImportOptions' });

export type ImportOptionsJson = z.infer<typeof importOptionsBody>;

/** The domain's options from the API's. */
export function importOptionsFrom(body: ImportOptionsJson): import('../../domain/imports/pipeline.ts').ImportOptions {
  return {
    format: body.format,
    newsletterSlug: body.newsletter ?? null,
    markConfirmed: body.mark_confirmed,
    attestation: body.attestation ?? null,
    sendConfirmation: body.send_confirmation,
    preview: body.preview,
    mapping: body.mapping,
    plans: body.plans,
    confirmFree: body.confirm_free,
    encoding: body.encoding,
  };
}
