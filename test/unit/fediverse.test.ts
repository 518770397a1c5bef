import { describe, expect, it } from 'vitest';
import { kindFromHtml } from '../../src/domain/recommendations/kind.ts';
import { judgeSubscribeAnswer, readerToken, readReaderToken, SUBSCRIBE_MAX_ATTEMPTS } from '../../src/domain/recommendations/subscribe.ts';
import { ValidationError } from '../../src/lib/errors.ts';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';
import { judgeAnswer, MAX_ATTEMPTS } from '../../src/domain/fediverse/delivery.ts';
import { htmlToText } from '../../src/domain/fediverse/text.ts';
import { normaliseDomain } from '../../src/domain/fediverse/followers.ts';
import { isFederationPath } from '../../src/domain/fediverse/federation.ts';
import { renderComment } from '../../src/domain/community/markdown.ts';

describe('FEDERATION_ALLOW_PRIVATE', () => {
  it('is off by default, on with 1, and refused in production unless HEARTH_TESTING=1', () => {
    expect(loadConfig({}).federationAllowPrivate).toBe(false);
    expect(loadConfig({ FEDERATION_ALLOW_PRIVATE: '1' }).federationAllowPrivate).toBe(true);
    expect(() => loadConfig({ FEDERATION_ALLOW_PRIVATE: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ FEDERATION_ALLOW_PRIVATE: '1', NODE_ENV: 'production' })).toThrow(
      /FEDERATION_ALLOW_PRIVATE: is for tests only/,
    );
    expect(loadConfig({ FEDERATION_ALLOW_PRIVATE: '1', NODE_ENV: 'production', HEARTH_TESTING: '1' }).federationAllowPrivate).toBe(true);
    expect(loadConfig({ FEDERATION_ALLOW_PRIVATE: '0', NODE_ENV: 'production' }).federationAllowPrivate).toBe(false);
  });
});

describe('a delivery answer', () => {
  it('is delivered on 2xx, gone on 410, refused on other 4xx, retried on 5xx, 408, 429 and no answer, dropped after the last attempt', () => {
    expect(judgeAnswer(202, 1)).toBe('delivered');
    expect(judgeAnswer(200, 1)).toBe('delivered');
    expect(judgeAnswer(410, 1)).toBe('gone');
    expect(judgeAnswer(400, 1)).toBe('refused');
    expect(judgeAnswer(401, 1)).toBe('refused');
    expect(judgeAnswer(500, 1)).toBe('retry');
    expect(judgeAnswer(429, 3)).toBe('retry');
    expect(judgeAnswer(408, 3)).toBe('retry');
    expect(judgeAnswer(undefined, 3)).toBe('retry');
    expect(judgeAnswer(503, MAX_ATTEMPTS)).toBe('dropped');
    expect(judgeAnswer(undefined, MAX_ATTEMPTS)).toBe('dropped');
  });
});

describe('remote HTML', () => {
  it('becomes text: no tag passes, paragraphs and breaks kept, entities decoded', () => {
    const text = htmlToText(
      '<p>Hello <a href="https://x.example/@a" class="mention">@<span>news</span></a> &amp; friends</p><p>Line<br>two &#x1F600; &lt;b&gt;</p><script>alert(1)</script><img src=x onerror=alert(1)>',
    );
    expect(text).toBe('Hello @news & friends\n\nLine\ntwo 😀 <b>');
    const html = renderComment(text);
    expect(html).not.toMatch(/<b>|<script|<img|onerror/);
    expect(html).toContain('&lt;b&gt;');
  });
});

describe('domain blocks and routes', () => {
  it('normalises a server name and refuses what is not one', () => {
    expect(normaliseDomain('https://Spam.Example/path')).toBe('spam.example');
    expect(normaliseDomain('spam.example')).toBe('spam.example');
    expect(normaliseDomain('not a domain')).toBeNull();
    expect(normaliseDomain('')).toBeNull();
  });

  it('sends WebFinger, NodeInfo and /ap/ to the federation, nothing else', () => {
    for (const p of ['/.well-known/webfinger', '/.well-known/nodeinfo', '/nodeinfo/2.1', '/ap/inbox', '/ap/actor/site'])
      expect(isFederationPath(p)).toBe(true);
    for (const p of ['/', '/posts/x', '/apple', '/.well-known/security.txt']) expect(isFederationPath(p)).toBe(false);
  });
});

describe('recommendations', () => {
  it("recognise Hearth and Ghost sites by their pages' generator, whatever the attribute order; anything else is other", () => {
    expect(kindFromHtml('<head><meta name="generator" content="Hearth"></head>')).toBe('hearth');
    expect(kindFromHtml("<meta content='Ghost 6.2' name='generator' />")).toBe('ghost');
    expect(kindFromHtml('<meta name=generator content="WordPress 6.8">')).toBe('other');
    expect(kindFromHtml('<meta name="description" content="Hearth and Ghost">')).toBe('other');
    expect(kindFromHtml('Hearth')).toBe('other');
  });

  it('one-step subscriptions: a signed reader token that expires; 2xx sent, 4xx failed, 5xx/429/no answer retried', () => {
    const token = readerToken('s'.repeat(32), '42', Date.UTC(2026, 0, 1));
    expect(readReaderToken('s'.repeat(32), token, Date.UTC(2026, 0, 1, 12))).toBe('42');
    expect(() => readReaderToken('s'.repeat(32), token, Date.UTC(2026, 0, 3))).toThrow(ValidationError);
    expect(() => readReaderToken('t'.repeat(32), token, Date.UTC(2026, 0, 1, 12))).toThrow(ValidationError);
    expect(() => readReaderToken('s'.repeat(32), `${token}x`, Date.UTC(2026, 0, 1, 12))).toThrow(ValidationError);
    expect(judgeSubscribeAnswer(202, 1)).toBe('sent');
    expect(judgeSubscribeAnswer(400, 1)).toBe('failed');
    expect(judgeSubscribeAnswer(429, 1)).toBe('retry');
    expect(judgeSubscribeAnswer(503, 1)).toBe('retry');
    expect(judgeSubscribeAnswer(undefined, 1)).toBe('retry');
    expect(judgeSubscribeAnswer(undefined, SUBSCRIBE_MAX_ATTEMPTS)).toBe('failed');
  });
});
