import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { renderPostEmail } from '../../emails/post.ts';
import {
  allowedCommands,
  backoffSeconds,
  commandTarget,
  DEFAULT_RETRY,
  SEND_STATUSES,
  statusFromBatches,
} from '../../src/domain/sending/lifecycle.ts';
import { batchMessages, idempotencyKey, type FixedSend } from '../../src/domain/sending/payload.ts';
import { parseSegmentInput } from '../../src/domain/sending/segments.ts';
import { readClickToken, readOpenToken } from '../../src/domain/tracking/tokens.ts';

describe('send lifecycle', () => {
  it('allows each command only from its statuses', () => {
    expect(commandTarget('schedule', 'draft')).toBe('scheduled');
    expect(commandTarget('undo', 'scheduled')).toBe('draft');
    expect(commandTarget('undo', 'sending')).toBeNull();
    expect(commandTarget('pause', 'sending')).toBe('paused');
    expect(commandTarget('resume', 'paused')).toBe('sending');
    expect(commandTarget('retry', 'failed')).toBe('sending');
    expect(commandTarget('retry', 'sent')).toBeNull();
    for (const status of SEND_STATUSES) {
      expect(commandTarget('cancel', status) !== null).toBe(status !== 'sent' && status !== 'cancelled');
    }
    expect(allowedCommands('sent')).toEqual([]);
    expect(allowedCommands('scheduled').sort()).toEqual(['cancel', 'undo']);
  });

  it('derives a send’s status from its batches', () => {
    expect(statusFromBatches({ pending: 1, posted: 9 })).toBe('sending');
    expect(statusFromBatches({ posting: 1 })).toBe('sending');
    expect(statusFromBatches({ posted: 10 })).toBe('sent');
    expect(statusFromBatches({})).toBe('sent');
    expect(statusFromBatches({ posted: 9, failed: 1 })).toBe('failed');
    expect(statusFromBatches({ posted: 5, cancelled: 5 })).toBe('sent');
  });

  it('backs off exponentially within ±20%, capped', () => {
    expect(backoffSeconds(1, DEFAULT_RETRY, () => 0.5)).toBe(5);
    expect(backoffSeconds(3, DEFAULT_RETRY, () => 0.5)).toBe(20);
    expect(backoffSeconds(20, DEFAULT_RETRY, () => 0.5)).toBe(300);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const s = backoffSeconds(n, DEFAULT_RETRY, () => r);
        return s >= 4 && s <= 360;
      }),
    );
  });
});

describe('batch payloads', () => {
  const brand = { title: 'Field Notes', accentColor: '#b45309', siteUrl: 'https://news.example.com' };
  const send: FixedSend = {
    id: '7',
    from: 'Field Notes <letters@example.com>',
    replyTo: 'editor@example.com',
    rendered: {
      full: renderPostEmail({
        brand,
        title: 'Harvest',
        url: 'https://news.example.com/posts/harvest',
        bodyHtml: '<p>All of it.</p>',
        cut: false,
        upgradeUrl: 'https://news.example.com/join',
      }),
      preview: renderPostEmail({
        brand,
        title: 'Harvest',
        url: 'https://news.example.com/posts/harvest',
        bodyHtml: '<p>Some.</p>',
        cut: true,
        upgradeUrl: 'https://news.example.com/join',
      }),
    },
    links: ['https://news.example.com/posts/harvest', 'https://news.example.com/join'],
    trackMembers: true,
  };
  const ctx = { siteUrl: 'https://news.example.com', secret: 'a-secret-of-enough-length-for-tests' };
  const deliveries = [
    { memberId: '1', email: 'ana@example.com', name: 'Ana <script>', variant: 'full' as const },
    { memberId: '2', email: 'ben@example.com', name: null, variant: 'preview' as const },
  ];

  it('is a pure function of the fixed send: the same bytes on every retry', () => {
    expect(JSON.stringify(batchMessages(send, deliveries, ctx))).toBe(JSON.stringify(batchMessages(send, deliveries, ctx)));
    expect(idempotencyKey('7', 3)).toBe('send-7-batch-3');
  });

  it('personalises each email: name (escaped), variant, unsubscribe headers and tags', () => {
    const [ana, ben] = batchMessages(send, deliveries, ctx);
    expect(ana!.html).toContain('Hi Ana &lt;script&gt;,');
    expect(ana!.html).toContain('All of it.');
    expect(ben!.html).toContain('Hi there,');
    expect(ben!.html).toContain('Some.');
    expect(ben!.html).not.toContain('All of it.');
    expect(ana!.headers!['List-Unsubscribe']).not.toBe(ben!.headers!['List-Unsubscribe']);
    expect(ana!.headers!['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(ana!.tags).toEqual([
      { name: 'hearth_send', value: '7' },
      { name: 'hearth_member', value: '1' },
    ]);
    expect(ana!.html).toContain(ana!.headers!['List-Unsubscribe']!.slice(1, -1).replace(/&/g, '&amp;'));
  });

  it('routes the post’s links through signed click tokens and adds an open pixel; unsubscribe links stay as they are', () => {
    const [ana] = batchMessages(send, deliveries.slice(0, 1), ctx);
    expect(ana!.html).not.toContain('href="https://news.example.com/posts/harvest"');
    const clicks = [...ana!.html!.matchAll(/href="https:\/\/news\.example\.com\/t\/c\/([^"]+)"/g)].map((m) =>
      readClickToken(ctx.secret, m[1]!),
    );
    expect(clicks).toContainEqual({ sendId: '7', memberId: '1', link: 0 });
    const pixel = /<img src="https:\/\/news\.example\.com\/t\/o\/([^"]+)"/.exec(ana!.html!)![1]!;
    expect(readOpenToken(ctx.secret, pixel)).toEqual({ sendId: '7', memberId: '1' });
    expect(ana!.html).toContain('href="https://news.example.com/unsubscribe?token=');
    // Tracking without naming members: the tokens carry member 0.
    const [anon] = batchMessages({ ...send, trackMembers: false }, deliveries.slice(0, 1), ctx);
    const anonPixel = /<img src="https:\/\/news\.example\.com\/t\/o\/([^"]+)"/.exec(anon!.html!)![1]!;
    expect(readOpenToken(ctx.secret, anonPixel)).toEqual({ sendId: '7', memberId: null });
  });
});

describe('segment input', () => {
  it('needs a newsletter and known platforms and engagement', () => {
    expect(parseSegmentInput({ newsletters: ['weekly', 'weekly', ' '] })).toEqual({
      newsletters: ['weekly'],
      tiers: [],
      labels: [],
      platforms: [],
      engagement: 'any',
    });
    expect(() => parseSegmentInput(null)).toThrow(/segment must be an object/);
    expect(() => parseSegmentInput({ newsletters: 'weekly' })).toThrow(/list of names/);
    expect(() => parseSegmentInput({ newsletters: ['weekly'], engagement: 'hot' })).toThrow(/engagement must be one of/);
    expect(() => parseSegmentInput({ newsletters: Array.from({ length: 51 }, (_, i) => `n${i}`) })).toThrow(/at most 50/);
  });
});
