import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import busboy from 'busboy';
import { ValidationError } from '../lib/errors.ts';

/**
 * Streams a multipart/form-data upload: the file named `file` is handed to `onFile` as a
 * stream while it arrives (never buffered whole); the other fields are collected. Fields that
 * come after the file are there when this resolves.
 */
export async function readMultipart<T>(
  request: Request,
  onFile: (file: { filename: string; stream: Readable }) => Promise<T>,
  limits: { maxFileBytes: number },
): Promise<{ fields: Map<string, string>; file: T | undefined }> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data') || !request.body) {
    throw new ValidationError('Send the file as multipart/form-data with a field named "file".', 'not_multipart');
  }
  const fields = new Map<string, string>();
  let handled: Promise<T> | undefined;
  let fileStream: Readable | undefined;
  let truncated = false;
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': type },
      limits: { files: 1, fields: 30, fieldSize: 20_000, fileSize: limits.maxFileBytes },
    });
  } catch {
    // busboy throws at once on a content type it cannot read (no boundary, a bad charset).
    throw new ValidationError('The upload is not valid multipart/form-data (its content type has no boundary).', 'bad_multipart');
  }
  const done = new Promise<void>((resolve, reject) => {
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || handled) {
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        truncated = true;
      });
      fileStream = stream;
      handled = onFile({ filename: info.filename || 'upload.csv', stream });
      handled.catch(() => stream.resume()); // drain the rest so the parser can finish
    });
    parser.on('field', (name, value) => fields.set(name, value));
    parser.on('close', resolve);
    parser.on('error', () => reject(new ValidationError('The upload is not valid multipart/form-data.', 'bad_multipart')));
  });
  const source = Readable.fromWeb(request.body as unknown as NodeWebStream<Uint8Array>);
  const cutOff = new Promise<never>((_, reject) => {
    // The body stopped before its end (the client went away, or the server's body limit cut it):
    // the file's consumer sees an error too, so nothing half-read is kept.
    source.once('error', () => {
      const err = new ValidationError('The upload was cut off before its end.', 'upload_incomplete');
      fileStream?.destroy(err);
      parser.destroy();
      reject(err);
    });
  });
  cutOff.catch(() => undefined);
  source.pipe(parser);
  await Promise.race([done, cutOff]);
  const file = handled ? await handled : undefined;
  if (truncated)
    throw new ValidationError(`The file is larger than ${Math.round(limits.maxFileBytes / 1024 / 1024)} MiB.`, 'file_too_large');
  return { fields, file };
}
