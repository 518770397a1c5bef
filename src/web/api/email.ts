import { z } from 'zod';
import { AUTOMATIC_EMAIL_KINDS } from '../../../emails/automatic.ts';
import type { AutomaticEmailView, EmailVersion, listAutomaticEmails } from '../../domain/emails/emails.ts';
import { Timestamp } from './schema.ts';

/** The automatic emails API's contract (README "Automatic emails"): bodies, shapes, serializers. */

export const EmailKind = z.enum(AUTOMATIC_EMAIL_KINDS as [string, ...string[]]).meta({ description: 'An automatic email, e.g. welcome.' });

const language = z
  .string()
  .max(20)
  .optional()
  .meta({ description: "An ISO 639-1 code among the site's languages; the site's language when absent." });

export const languageQuery = z.object({ language });

const Template = z.strictObject({
  subject: z.string().meta({ description: 'Plain text with {{variables}}.' }),
  preheader: z.string().meta({ description: 'The inbox preview line: plain text with {{variables}}.' }),
  markdown: z.string().meta({ description: 'The body: Markdown with {{variables}}; a paragraph that is only a link is a button.' }),
});

/** PUT /api/v1/emails/:kind. */
export const putEmailBody = z
  .strictObject({
    subject: z.string().max(1000),
    preheader: z.string().max(1000),
    markdown: z.string().max(100_000),
    language,
  })
  .meta({ id: 'AutomaticEmailPut' });

/** POST /api/v1/emails/:kind/reset and /test. */
export const languageBody = z.strictObject({ language }).meta({ id: 'AutomaticEmailLanguage' });

export const AutomaticEmailJson = z
  .strictObject({
    kind: EmailKind,
    name: z.string(),
    when: z.string().meta({ description: 'When Hearth sends it.' }),
    language: z.string(),
    custom: z.boolean().meta({ description: "Staff's own text is live (false: the default)." }),
    version: z.int().nullable().meta({ description: 'The latest version (a reset is a version too); null when never edited.' }),
    updated_at: Timestamp.nullable(),
    subject: z.string(),
    preheader: z.string(),
    markdown: z.string(),
    default: Template.meta({ description: 'The default text, as Markdown with variables.' }),
    variables: z.array(
      z.strictObject({
        name: z.string(),
        description: z.string(),
        required: z.boolean().meta({ description: 'Must stay in the body as a link (or, for a block, at all).' }),
        block: z.boolean().meta({ description: 'Stands on a line of its own.' }),
      }),
    ),
  })
  .meta({ id: 'AutomaticEmail' });

export const AutomaticEmailEnvelope = z.strictObject({ email: AutomaticEmailJson });

export const AutomaticEmailList = z.strictObject({
  emails: z.array(
    z.strictObject({
      kind: EmailKind,
      name: z.string(),
      when: z.string(),
      custom: z.array(z.strictObject({ language: z.string(), version: z.int(), updated_at: Timestamp })).meta({
        description: "The languages with staff's own text live.",
      }),
    }),
  ),
});

export const AutomaticEmailVersions = z.strictObject({
  versions: z.array(
    z.strictObject({
      version: z.int(),
      reset: z.boolean().meta({ description: 'This version put the default back.' }),
      subject: z.string().nullable(),
      preheader: z.string().nullable(),
      markdown: z.string().nullable(),
      created_by: z.string().nullable().meta({ description: 'The staff address that saved it.' }),
      created_at: Timestamp,
    }),
  ),
});

export const TestSent = z.strictObject({ queued: z.literal(true), to: z.string() });

export function automaticEmailJson(e: AutomaticEmailView): z.infer<typeof AutomaticEmailJson> {
  return {
    kind: e.kind,
    name: e.name,
    when: e.when,
    language: e.language,
    custom: e.custom,
    version: e.version,
    updated_at: e.updatedAt?.toISOString() ?? null,
    subject: e.template.subject,
    preheader: e.template.preheader,
    markdown: e.template.markdown,
    default: e.default,
    variables: e.variables,
  };
}

export function automaticEmailListJson(list: Awaited<ReturnType<typeof listAutomaticEmails>>): z.infer<typeof AutomaticEmailList> {
  return {
    emails: list.map((e) => ({
      kind: e.kind,
      name: e.name,
      when: e.when,
      custom: e.custom.map((c) => ({ language: c.language, version: c.version, updated_at: c.updatedAt.toISOString() })),
    })),
  };
}

export function versionsJson(versions: EmailVersion[]): z.infer<typeof AutomaticEmailVersions> {
  return {
    versions: versions.map((v) => ({
      version: v.version,
      reset: v.reset,
      subject: v.subject,
      preheader: v.preheader,
      markdown: v.markdown,
      created_by: v.createdBy,
      created_at: v.createdAt.toISOString(),
    })),
  };
}
