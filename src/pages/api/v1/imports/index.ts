import { ValidationError } from '../../../../lib/errors.ts';
import { isImportFormat } from '../../../../domain/imports/formats.ts';
import { createImport, discardUploadedImport, startImport } from '../../../../domain/imports/pipeline.ts';
import { importJson } from '../../../../web/api/import.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';
import { readMultipart } from '../../../../web/multipart.ts';

/**
 * POST /api/v1/imports: multipart `file`, optional `newsletter` (slug), `format`
 * (auto|generic|mailchimp|substack|ghost|beehiiv|kit), `mark_confirmed` with `attestation`,
 * `send_confirmation`. Answers 202 with the queued import; poll GET /api/v1/imports/:id.
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
    const format = fields.get('format') ?? 'auto';
    if (format !== 'auto' && !isImportFormat(format))
      throw new ValidationError(`format must be auto, generic, mailchimp, substack, ghost, beehiiv or kit.`, 'invalid_format');
    const started = await startImport(db, file.id, {
      format: format as 'auto',
      newsletterSlug: fields.get('newsletter') || null,
      markConfirmed: fields.get('mark_confirmed') === 'true' || fields.get('mark_confirmed') === '1',
      attestation: fields.get('attestation') || null,
      sendConfirmation: fields.get('send_confirmation') === 'true' || fields.get('send_confirmation') === '1',
    });
    return json({ import: importJson(started) }, 202);
  } catch (err) {
    // A refused API import leaves nothing behind (the admin keeps uploads: staff fix the options).
    await discardUploadedImport(db, file.id);
    throw err;
  }
});
