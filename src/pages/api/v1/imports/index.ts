import { ValidationError } from '../../../../lib/errors.ts';
import { createImport, discardUploadedImport, startImport } from '../../../../domain/imports/pipeline.ts';
import { importJson, importOptionsBody, importOptionsFrom } from '../../../../web/api/import.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';
import { readMultipart } from '../../../../web/multipart.ts';

/**
 * POST /api/v1/imports: multipart `file`, optional `newsletter` (slug), `format`,
 * `mark_confirmed` with `attestation`, `send_confirmation`, `preview`, `confirm_free`, `encoding`,
 * and `mapping` / `plans` as JSON objects. Answers 202 with the queued import; poll
 * GET /api/v1/imports/:id (a preview stops at `previewed`; start it with POST …/:id/start).
 */
export const POST = apiRoute(async ({ request }, { db, staff }) => {
  const { fields, file } = await readMultipart(
    request,
    ({ filename, stream }) => createImport(db, { filename, body: stream, createdBy: staff.id }),
    {
      maxFileBytes: 1024 * 1024 * 1024,
    },
  );
  if (!file) throw new ValidationError('Send the CSV as a multipart field named "file".', 'no_file');
  try {
    const flag = (name: string) => (fields.has(name) ? fields.get(name) === 'true' || fields.get(name) === '1' : undefined);
    const object = (name: string): unknown => {
      const raw = fields.get(name);
      if (!raw) return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        throw new ValidationError(`${name} must be a JSON object.`, 'invalid_body');
      }
    };
    const parsed = importOptionsBody.safeParse({
      format: fields.get('format') || undefined,
      newsletter: fields.get('newsletter') || null,
      mark_confirmed: flag('mark_confirmed'),
      attestation: fields.get('attestation') || null,
      send_confirmation: flag('send_confirmation'),
      preview: flag('preview'),
      confirm_free: flag('confirm_free'),
      encoding: fields.get('encoding') || undefined,
      mapping: object('mapping'),
      plans: object('plans'),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`${issue.path.join('.') || 'body'}: ${issue.message}`, 'invalid_body');
    }
    const started = await startImport(db, file.id, importOptionsFrom(parsed.data));
    return json({ import: importJson(started) }, 202);
  } catch (err) {
    // A refused API import leaves nothing behind (the admin keeps uploads: staff fix the options).
    await discardUploadedImport(db, file.id);
    throw err;
  }
});
