import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIP_WARNING_BYTES, GMAIL_CLIP_BYTES, postEmailSize } from '../../src/domain/content/email-size.ts';
import { createSend } from '../../src/domain/sending/sends.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { POST as postSend } from '../../src/pages/api/v1/sends/index.ts';
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

  it('the send API refuses a clipped email with 400 email_clipped unless "confirm_clipped": true', async () => {
    const postId = await makePost(t.db, { markdown: markdownOf(120 * 1024) });
    const staff = await createStaffUser(t.db, { email: 'sender@example.com', password: 'a long staff password', role: 'editor' });
    const deps = { db: t.db, siteUrl, stripe: undefined, staff: { id: staff.id, email: staff.email, name: staff.name, role: staff.role } };
    const call = (extra: Record<string, unknown>) =>
      postSend.handle(
        new Request(`${siteUrl}/api/v1/sends`, {
          method: 'POST',
          body: JSON.stringify({ post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0, ...extra }),
        }),
        deps,
      );
    const refused = await call({});
    expect(refused.status).toBe(400);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('email_clipped');
    expect(error.message).toMatch(/Gmail clips emails over 102\.0 KB/);
    expect((await call({ confirm_clipped: false })).status).toBe(400);
    const sent = await call({ confirm_clipped: true });
    expect(sent.status).toBe(201);
    expect(((await sent.json()) as { send: { status: string } }).send.status).toBe('scheduled');
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
