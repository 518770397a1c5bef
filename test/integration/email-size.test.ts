import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIP_WARNING_BYTES, GMAIL_CLIP_BYTES, postEmailSize } from '../../src/domain/content/email-size.ts';
import { createSend } from '../../src/domain/sending/sends.ts';
import { ValidationError } from '../../src/lib/errors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';

/** The email's size against Gmail's 102 KB clip: measured for the heaviest variant, warned, refused unless confirmed. */
let t: TestDatabase;
const siteUrl = 'https://news.example.com';
const paragraph = 'We cupped forty lots this spring. **Jasmine**, bergamot, and a [very patient farmer](/posts/guji) in Guji. ';
const markdownOf = (bytes: number) => {
  const out: string[] = [];
  let size = 0;
  while (size < bytes) {
    out.push(paragraph.repeat(3));
    size += paragraph.length * 3 + 2;
  }
  return out.join('\n\n');
};

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 3);
});
afterAll(async () => {
  await t?.drop();
});

describe('email size', () => {
  it('a short post is far under the clip', async () => {
    const size = await postEmailSize(t.db, siteUrl, await makePost(t.db, { markdown: 'Hello.' }));
    expect(size.bytes).toBeLessThan(20_000);
    expect(size).toMatchObject({ warn: false, clipped: false, variant: 'full' });
  });

  it('a 120 KB post warns and is refused for sending unless confirmed; a draft may be kept', async () => {
    const postId = await makePost(t.db, { markdown: markdownOf(120 * 1024) });
    const size = await postEmailSize(t.db, siteUrl, postId);
    expect(size.bytes).toBeGreaterThan(GMAIL_CLIP_BYTES);
    expect(size).toMatchObject({ warn: true, clipped: true });
    const send = (confirmed: boolean, draft = false) =>
      createSend(t.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0, draft, clipCheck: { siteUrl, confirmed } });
    await expect(send(false)).rejects.toThrow(ValidationError);
    await expect(send(false)).rejects.toThrow(/Gmail clips emails over 102\.0 KB/);
    expect((await send(false, true)).status).toBe('draft');
    expect((await send(true)).status).toBe('scheduled');
  });

  it('warns before the clip: between 90 % and 102 KB', async () => {
    let low = 40 * 1024;
    let high = 120 * 1024;
    // Find a Markdown length whose email lands in the warning band.
    for (let i = 0; i < 12; i++) {
      const mid = Math.round((low + high) / 2);
      const size = await postEmailSize(t.db, siteUrl, await makePost(t.db, { markdown: markdownOf(mid) }));
      if (size.bytes > GMAIL_CLIP_BYTES) high = mid;
      else if (size.bytes < CLIP_WARNING_BYTES) low = mid;
      else {
        expect(size).toMatchObject({ warn: true, clipped: false });
        return;
      }
    }
    throw new Error('no Markdown length landed in the warning band');
  });
});
