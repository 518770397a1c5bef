import { describe, expect, it } from 'vitest';
import { BODY_LIMITS, bodyLimitFor } from '../../src/web/body-limits.ts';

describe('bodyLimitFor', () => {
  it('gives each route its limit', () => {
    expect(BODY_LIMITS.readerForm).toBeLessThanOrEqual(16 * 1024);
    expect(BODY_LIMITS.webhook).toBe(1024 * 1024);
    for (const path of [
      '/subscribe',
      '/signin',
      '/signin/verify',
      '/confirm',
      '/unsubscribe',
      '/account/email',
      '/embed/subscribe',
      '/r/abc',
    ])
      expect(bodyLimitFor(path), path).toBe(BODY_LIMITS.readerForm);
    expect(bodyLimitFor('/posts/a-post/comments')).toBe(BODY_LIMITS.comment);
    expect(bodyLimitFor('/posts/a-post/comments/12')).toBe(BODY_LIMITS.comment);
    expect(bodyLimitFor('/posts/a-post/reactions')).toBe(BODY_LIMITS.readerForm);
    expect(bodyLimitFor('/webhooks/stripe')).toBe(BODY_LIMITS.webhook);
    expect(bodyLimitFor('/webhooks/resend')).toBe(BODY_LIMITS.webhook);
    expect(bodyLimitFor('/admin/uploads')).toBe(BODY_LIMITS.imageUpload);
    expect(bodyLimitFor('/admin/imports/')).toBe(BODY_LIMITS.importUpload);
    expect(bodyLimitFor('/api/v1/imports')).toBe(BODY_LIMITS.importUpload);
    expect(bodyLimitFor('/admin/imports/7')).toBe(BODY_LIMITS.staff);
    expect(bodyLimitFor('/admin/posts/new')).toBe(BODY_LIMITS.staff);
    expect(bodyLimitFor('/api/v1/posts')).toBe(BODY_LIMITS.staff);
  });

  it('falls to the smallest limit for anything unlisted (a new reader route is small until listed)', () => {
    expect(bodyLimitFor('/')).toBe(BODY_LIMITS.readerForm);
    expect(bodyLimitFor('/anything/new')).toBe(BODY_LIMITS.readerForm);
    expect(bodyLimitFor('/administrator')).toBe(BODY_LIMITS.readerForm);
    expect(bodyLimitFor('/webhooks')).toBe(BODY_LIMITS.readerForm);
  });
});
