import type { APIRoute } from 'astro';
import { DomainError, ValidationError } from '../../lib/errors.ts';
import { json, jsonError, safeNext, statusFor } from '../../web/http.ts';
import { readMultipart } from '../../web/multipart.ts';
import { MAX_IMAGE_BYTES, saveImage } from '../../lib/uploads.ts';
import { recordImageSize } from '../../domain/content/images.ts';

/**
 * An image upload from the editor (multipart `file`). A form post goes back to the editor with
 * the Markdown to paste (`?image=`); a request that asks for JSON gets {"url"}.
 */
export const POST: APIRoute = async ({ request, url, locals, redirect }) => {
  const wantsJson = (request.headers.get('accept') ?? '').includes('application/json');
  const back = safeNext(url.searchParams.get('back'), '/admin/posts', '/admin/');
  try {
    const { file } = await readMultipart(request, ({ stream }) => saveImage(locals.runtime.config.uploadsDir, stream), {
      maxFileBytes: MAX_IMAGE_BYTES + 1,
    });
    if (!file) throw new ValidationError('Choose an image to upload.', 'no_file');
    await recordImageSize(locals.runtime.db, locals.runtime.config.uploadsDir, file);
    if (wantsJson) return json({ url: file }, 201);
    return redirect(`${back}${back.includes('?') ? '&' : '?'}image=${encodeURIComponent(file)}`, 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (wantsJson) return jsonError(statusFor(err), err.code, err.message);
    return redirect(`${back}${back.includes('?') ? '&' : '?'}upload_error=${encodeURIComponent(err.message)}`, 303);
  }
};
