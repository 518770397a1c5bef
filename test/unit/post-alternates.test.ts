import { describe, expect, it } from 'vitest';
import { alternatesAt, type FamilyMember } from '../../src/domain/content/translations.ts';

/**
 * A post's hreflang alternates are decided at the moment of the request from its family's
 * versions and their publication times: a web process keeps the family (src/web/conversation-cache.ts)
 * until a post is written, and a scheduled translation must still come out on time with no write.
 */
describe('alternatesAt', () => {
  const at = Date.UTC(2026, 10, 30, 12);
  const family: FamilyMember[] = [
    { slug: 'hello', language: null, publishedMs: at - 60_000 },
    { slug: 'bonjour', language: 'fr', publishedMs: at + 60_000 },
    { slug: 'hallo', language: 'de', publishedMs: null },
  ];

  it('leaves out a version scheduled for later, and has none while only one version is out', () => {
    expect(alternatesAt(family, at, 'en')).toEqual([]);
  });

  it('takes the scheduled version in once its time has come, with the site language for the original', () => {
    expect(alternatesAt(family, at + 60_000, 'en')).toEqual([
      { language: 'en', slug: 'hello' },
      { language: 'fr', slug: 'bonjour' },
    ]);
  });
});
