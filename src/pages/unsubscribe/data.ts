import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { readPreferencesToken } from '../../domain/members/links.ts';
import { exportMemberData } from '../../domain/members/preferences.ts';
import { jsonError, statusFor } from '../../web/http.ts';
import { readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/** A member's own data as a JSON download (the signed link from any email is the credential). */
export const GET: APIRoute = async (astro) => {
  const { url, locals } = astro;
  try {
    const memberId = readPreferencesToken(locals.runtime.config.appSecret, url.searchParams.get('token') ?? '');
    const data = await exportMemberData(locals.runtime.db, memberId);
    return new Response(JSON.stringify(data, null, 2), {
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'content-disposition': 'attachment; filename="my-data.json"',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    // The reader followed a link: the message is theirs to read, in their language.
    return jsonError(statusFor(err), err.code, readerError(await readerLocale(astro), err, 'preferences'));
  }
};
