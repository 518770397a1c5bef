import { describe, expect, it } from 'vitest';
import { attributePlatform, PLATFORMS, platformFromReferrer, platformFromUtmSource } from '../../src/domain/members/sources.ts';

describe('platformFromReferrer', () => {
  it.each([
    ['https://l.instagram.com/?u=https%3A%2F%2Fnews.example.com', 'instagram'],
    ['https://www.instagram.com/fieldnotes/', 'instagram'],
    ['https://t.co/AbCdEf', 'x'],
    ['https://twitter.com/someone/status/1', 'x'],
    ['https://x.com/home', 'x'],
    ['https://lnkd.in/abc', 'linkedin'],
    ['https://www.linkedin.com/feed/', 'linkedin'],
    ['https://m.facebook.com/story.php', 'facebook'],
    ['https://l.facebook.com/l.php?u=x', 'facebook'],
    ['https://lm.facebook.com/l.php?u=x', 'facebook'],
    ['https://bsky.app/profile/fieldnotes.bsky.social', 'bluesky'],
    ['https://www.threads.net/@fieldnotes', 'threads'],
    ['https://l.threads.com/?u=x', 'threads'],
    ['https://www.tiktok.com/@fieldnotes', 'tiktok'],
    ['https://vm.tiktok.com/ZM123/', 'tiktok'],
    ['https://www.youtube.com/watch?v=1', 'youtube'],
    ['https://youtu.be/abc', 'youtube'],
    ['https://out.reddit.com/t3_x', 'reddit'],
    ['https://old.reddit.com/r/coffee', 'reddit'],
    ['https://mastodon.social/@fieldnotes', 'mastodon'],
    ['https://hachyderm.io/@a', 'mastodon'],
  ])('%s → %s', (referrer, platform) => {
    expect(platformFromReferrer(referrer)).toBe(platform);
  });

  it.each([
    'https://www.google.com/',
    'https://notinstagram.com/',
    'https://instagram.com.evil.example/',
    'not a url',
    '',
    'javascript:alert(1)',
  ])('does not recognise %s', (referrer) => {
    expect(platformFromReferrer(referrer)).toBeNull();
  });
});

describe('platformFromUtmSource', () => {
  it.each([
    ['instagram', 'instagram'],
    ['IG', 'instagram'],
    ['twitter', 'x'],
    ['bsky', 'bluesky'],
    ['mastodon.social', 'mastodon'],
    ['toot.cafe', 'mastodon'],
    ['indieweb.social-mastodon', 'mastodon'],
    ['fb', 'facebook'],
    ['newsletter-swap', null],
  ])('%s → %s', (source, platform) => {
    expect(platformFromUtmSource(source)).toBe(platform);
  });
});

describe('attributePlatform', () => {
  it('prefers the landing page, then utm_source, then ref, then the referrer', () => {
    expect(attributePlatform({ landingPlatform: 'tiktok', utmSource: 'instagram', referrer: 'https://t.co/x' })).toBe('tiktok');
    expect(attributePlatform({ utmSource: 'instagram', referrer: 'https://t.co/x' })).toBe('instagram');
    expect(attributePlatform({ ref: 'abc123', referrer: 'https://t.co/x' })).toBe('referral');
    expect(attributePlatform({ referrer: 'https://t.co/x' })).toBe('x');
  });

  it('calls an unknown referrer other, our own pages or nothing direct', () => {
    expect(attributePlatform({ referrer: 'https://blog.example.org/post' })).toBe('other');
    expect(attributePlatform({ utmSource: 'podcast' })).toBe('other');
    expect(attributePlatform({ referrer: 'https://news.example.com/posts/a', siteHost: 'news.example.com' })).toBe('direct');
    expect(attributePlatform({})).toBe('direct');
  });

  it('ignores a landing platform that is not a social platform', () => {
    expect(attributePlatform({ landingPlatform: 'myspace' })).toBe('direct');
    expect(attributePlatform({ landingPlatform: 'import' })).toBe('direct');
    expect(attributePlatform({ landingPlatform: 'referral' })).toBe('direct');
    expect(PLATFORMS).toContain(attributePlatform({ landingPlatform: 'instagram' }));
  });
});
