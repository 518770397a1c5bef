import { describe, expect, it } from 'vitest';
import { tickMs } from '../../src/lib/live-hub.ts';
import { cutAtFrames } from '../../src/live-routes.ts';

/** How the live feed bounds one socket write (src/live-routes.ts): pieces end at a frame where one fits. */
const frame = (n: number, size: number) => `id: ${n}\nevent: import.finished\ndata: {"n":${n},"f":"${'z'.repeat(size)}"}\n\n`;

describe('cutAtFrames', () => {
  it('keeps bytes under the bound whole, and cuts a longer run at frame ends, in order', () => {
    const small = Buffer.from(frame(1, 10) + frame(2, 10));
    expect(cutAtFrames(small, 1_000)).toEqual([small]);

    const text = Array.from({ length: 50 }, (_, i) => frame(i + 1, 90 + (i % 7) * 13)).join('');
    const pieces = cutAtFrames(Buffer.from(text), 1_000);
    expect(pieces.length).toBeGreaterThan(text.length / 1_000);
    expect(Buffer.concat(pieces).toString()).toBe(text);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(1_000);
      expect(p.toString()).toMatch(/^id: \d+\n[^]*\n\n$/); // whole frames only
    }
  });

  it('cuts a frame larger than the bound inside it, and the pieces still join to the input', () => {
    const text = frame(1, 10) + frame(2, 2_500) + frame(3, 10);
    const pieces = cutAtFrames(Buffer.from(text), 1_000);
    expect(Buffer.concat(pieces).toString()).toBe(text);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(1_000);
    expect(pieces[0]!.toString()).toBe(frame(1, 10)); // the small frame before it goes alone
  });

  it('cuts multi-byte text anywhere without losing a byte', () => {
    const text = frame(1, 0).replace('"f":""', `"f":"${'é€'.repeat(700)}"`);
    const pieces = cutAtFrames(Buffer.from(text), 333);
    expect(Buffer.concat(pieces).toString()).toBe(text);
    expect(pieces.every((p) => p.length <= 333)).toBe(true);
  });
});

describe('tickMs', () => {
  it('keeps 250 ms ticks for a small audience and grows them with the clients, never past 1 s (the feed promises 2 s)', () => {
    expect(tickMs(0)).toBe(250);
    expect(tickMs(1)).toBe(250);
    expect(tickMs(100)).toBe(250);
    expect(tickMs(200)).toBe(500);
    for (let clients = 1; clients <= 400; clients++) expect((clients * 1000) / tickMs(clients)).toBeLessThanOrEqual(400); // writes a second
    expect(tickMs(401)).toBe(1_000);
    expect(tickMs(100_000)).toBe(1_000);
  });
});
