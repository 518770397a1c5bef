import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';

export const POST_FIXTURES = join(import.meta.dirname, '../fixtures/imports/posts');

/** The Substack export as Substack ships it: posts.csv and posts/<post_id>.html in one zip. */
export async function substackZip(extra: Record<string, Uint8Array> = {}): Promise<Uint8Array> {
  const dir = join(POST_FIXTURES, 'substack');
  const files: Record<string, Uint8Array> = { 'posts.csv': await readFile(join(dir, 'posts.csv')) };
  for (const name of await readdir(join(dir, 'posts'))) files[`posts/${name}`] = await readFile(join(dir, 'posts', name));
  return zipSync({ ...files, ...extra });
}
