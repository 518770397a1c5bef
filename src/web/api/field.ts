import { z } from 'zod';
import type { FieldPatch, MemberField } from '../../domain/members/fields.ts';
import { Id, Timestamp } from './schema.ts';

/** The custom member fields API's contract (README "Custom member fields"): bodies, the Field shape, its serializer. */

const FieldType = z.enum(['text', 'number', 'date', 'choice', 'boolean']);

const common = {
  label: z.string().min(1).max(100),
  options: z.array(z.string().max(100)).max(50).optional().meta({ description: 'The choices of a choice field (1 to 50).' }),
  member_editable: z.boolean().optional().meta({ description: 'Members may fill it from their account page.' }),
  order: z.int().min(0).max(10_000).optional().meta({ description: 'Position in forms and exports; lower first.' }),
};

/** POST /api/v1/fields. */
export const newFieldBody = z
  .strictObject({
    key: z.string().max(40).meta({ description: 'A lower-case letter, then letters, digits and underscores; at most 40.' }),
    type: FieldType,
    ...common,
  })
  .meta({ id: 'FieldCreate' });

/** PATCH /api/v1/fields/:key: key and type never change. */
export const patchFieldBody = z
  .strictObject({
    ...common,
    label: common.label.optional(),
    archived: z.boolean().optional().meta({ description: 'false brings an archived field back (DELETE archives).' }),
  })
  .meta({ id: 'FieldPatch' });

export const Field = z
  .strictObject({
    id: Id,
    key: z.string(),
    label: z.string(),
    type: FieldType,
    options: z.array(z.string()),
    member_editable: z.boolean(),
    order: z.int(),
    archived: z.boolean(),
    created_at: Timestamp,
  })
  .meta({ id: 'Field' });

export const FieldEnvelope = z.strictObject({ field: Field });
export const FieldList = z.strictObject({ fields: z.array(Field) });

export function fieldJson(f: MemberField): z.infer<typeof Field> {
  return {
    id: f.id,
    key: f.key,
    label: f.label,
    type: f.type,
    options: f.options,
    member_editable: f.memberEditable,
    order: f.sortOrder,
    archived: f.archivedAt !== null,
    created_at: f.createdAt.toISOString(),
  };
}

export function fieldPatch(body: z.infer<typeof patchFieldBody>): FieldPatch {
  return { label: body.label, options: body.options, memberEditable: body.member_editable, sortOrder: body.order, archived: body.archived };
}
