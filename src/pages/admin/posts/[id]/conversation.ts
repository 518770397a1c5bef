import type { APIRoute } from 'astro';
import { isCommentsMode, setPostCommentsMode } from '../../../../domain/community/settings.ts';
import { DomainError } from '../../../../lib/errors.ts';
import { statusFor } from '../../../../web/http.ts';
import { field, readFields } from '../../../../web/request-data.ts';

/** POST /admin/posts/:id/conversation: who may talk under this post (`mode`: site, off, members, paid). */
export const POST: APIRoute = async ({ params, request, locals, redirect }) => {
  const form = await readFields(request);
  const mode = field(form, 'mode');
  try {
    if (mode !== 'site' && !isCommentsMode(mode))
      return new Response('Choose who may talk.', { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    await setPostCommentsMode(locals.runtime.db, params.id!, mode === 'site' ? null : mode);
    return redirect(`/admin/posts/${params.id}?conversation=saved`, 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return new Response(err.message, { status: statusFor(err), headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
};
