import { describe, expect, it } from 'vitest';
import { judge } from '../../src/lib/rate-limit.ts';

/** The sliding-window verdict: a limit holds across a window boundary, not only inside one. */
describe('judge', () => {
  const rule = { limit: 30, windowSeconds: 900 };
  const hit = (estimate: number) => estimate <= rule.limit;

  it('allows up to the limit inside one window', () => {
    expect(judge({ hits: 30, prev_hits: 0, elapsed: 100 }, rule, hit).allowed).toBe(true);
    const refused = judge({ hits: 31, prev_hits: 0, elapsed: 100 }, rule, hit);
    expect(refused.allowed).toBe(false);
    // Until the window ends, then until this window's weight has fallen enough in the next.
    expect(refused.retryAfter).toBeGreaterThanOrEqual(800);
  });

  it('counts the previous window right after a boundary (no double burst)', () => {
    // 30 hits at 10:14:59, one more at 10:15:01: refused, as it would be without the boundary.
    const verdict = judge({ hits: 1, prev_hits: 30, elapsed: 1 }, rule, hit);
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfter).toBeGreaterThan(0);
    expect(verdict.retryAfter).toBeLessThanOrEqual(60);
  });

  it('lets the previous window fade out as the new one goes on', () => {
    expect(judge({ hits: 1, prev_hits: 30, elapsed: 450 }, rule, hit).allowed).toBe(true);
    expect(judge({ hits: 16, prev_hits: 30, elapsed: 450 }, rule, hit).allowed).toBe(false);
    expect(judge({ hits: 15, prev_hits: 30, elapsed: 450 }, rule, hit).allowed).toBe(true);
  });

  it('gives a Retry-After after which one more hit is allowed', () => {
    for (const counts of [
      { hits: 1, prev_hits: 30, elapsed: 1 },
      { hits: 20, prev_hits: 30, elapsed: 300 },
      { hits: 45, prev_hits: 10, elapsed: 600 },
    ]) {
      const { allowed, retryAfter } = judge(counts, rule, hit);
      expect(allowed).toBe(false);
      // Later, with no hit in between: where the counts are then.
      const later = counts.elapsed + retryAfter;
      const next =
        later < rule.windowSeconds
          ? { hits: counts.hits + 1, prev_hits: counts.prev_hits, elapsed: later }
          : { hits: 1, prev_hits: counts.hits, elapsed: later - rule.windowSeconds };
      expect(judge(next, rule, hit).allowed).toBe(true);
    }
  });
});
