import type { Kysely } from 'kysely';
import type { Database } from '../../../../db/types.ts';

/**
 * Old addresses of imported posts (Substack's /p/<slug>, Ghost's /<slug>/) → /posts/<slug>.
 * Kept apart from the importer so the request path loads nothing of it.
 */
export function normalizePath(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

/** Where an imported post's old address now lives (a 301), or undefined. One primary-key lookup. */
export async function findImportedRedirect(db: Kysely<Database>, path: string): Promise<string | undefined> {
  if (path.length > 301) return undefined;
  const row = await db.selectFrom('post_redirects').select('slug').where('old_path', '=', normalizePath(path)).executeTakeFirst();
  return row?.slug;
}
