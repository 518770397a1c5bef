import { describe, expect, it } from 'vitest';
import { readingStats } from '../../src/domain/content/reading.ts';

describe('readingStats', () => {
  it('counts words, not markup', () => {
    expect(readingStats('')).toEqual({ words: 0, minutes: 0 });
    expect(
      readingStats(
        '## Cold brew\n\nIs **patience** in a [jar](https://example.com/x).\n\n<!--more-->\n\n![a jar](/uploads/a.png)\n\n{{poll:3}}\n\n---',
      ),
    ).toEqual({
      words: 7,
      minutes: 1,
    });
  });
  it('reads 230 words a minute', () => {
    expect(readingStats('word '.repeat(690)).minutes).toBe(3);
  });
});
