import type { APIRoute } from 'astro';
import { DomainError, ValidationError } from '../../lib/errors.ts';
import { readPreferencesToken } from '../../domain/members/links.ts';
import { deleteMember } from '../../domain/members/preferences.ts';
import { statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';
import { readFields } from '../../web/request-data.ts';

/** Erasure by the member: personal data goes, anonymous aggregates stay. */
export const POST: APIRoute = async ({ url, request, locals }) => {
  try {
    const memberId = readPreferencesToken(locals.runtime.config.appSecret, url.searchParams.get('token') ?? '');
    const fields = await readFields(request);
    if (fields.get('confirm') !== 'yes')
      throw new ValidationError('Tick the box to confirm that you want your data erased.', 'not_confirmed');
    await deleteMember(locals.runtime.db, memberId);
    return messagePage({
      status: 200,
      title: 'You are deleted',
      message: 'Your subscription and your personal data are erased. We will not email you again.',
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({ status: statusFor(err), title: 'We could not delete you', message: err.message });
  }
};
