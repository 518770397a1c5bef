import type { APIRoute } from 'astro';
import { DomainError, ValidationError } from '../../lib/errors.ts';
import { readPreferencesToken } from '../../domain/members/links.ts';
import { deleteMember } from '../../domain/members/preferences.ts';
import { statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';
import { readFields } from '../../web/request-data.ts';
import { linkOwner, readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/** Erasure by the member: personal data goes, anonymous aggregates stay. */
export const POST: APIRoute = async (astro) => {
  const { url, request, locals } = astro;
  // Worked out before the erasure: the member's language goes with their row.
  const tr = await readerLocale(
    astro,
    linkOwner(() => readPreferencesToken(locals.runtime.config.appSecret, url.searchParams.get('token') ?? '')),
  );
  try {
    const memberId = readPreferencesToken(locals.runtime.config.appSecret, url.searchParams.get('token') ?? '');
    const fields = await readFields(request);
    if (fields.get('confirm') !== 'yes')
      throw new ValidationError('Tick the box to confirm that you want your data erased.', 'not_confirmed');
    await deleteMember(locals.runtime.db, memberId);
    return messagePage({
      status: 200,
      title: tr.t('account.preferences.deleted'),
      message: tr.t('account.preferences.deletedBody'),
      tr,
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({
      status: statusFor(err),
      title: tr.t('account.preferences.deleteFailed'),
      message: readerError(tr, err, 'preferences'),
      tr,
    });
  }
};
