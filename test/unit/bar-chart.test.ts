import { describe, expect, it } from 'vitest';
import { barChart, heatmap, lineChart } from '../../src/domain/stats/charts.ts';

/** Where each <text> starts, given its anchor and an estimate of 6.5 px per character at 11 px. */
function textExtents(svg: string): Array<{ from: number; to: number; text: string }> {
  return [...svg.matchAll(/<text x="([\d.]+)"[^>]*?(text-anchor="(end|middle)")?[^>]*>([^<]*)</g)].map((m) => {
    const x = Number(m[1]);
    const w = m[4]!.length * 6.5;
    const from = m[3] === 'end' ? x - w : m[3] === 'middle' ? x - w / 2 : x;
    return { from, to: from + w, text: m[4]! };
  });
}

describe('barChart', () => {
  it('draws a bar per category and series, proportional, with the figure beside it', () => {
    const svg = barChart({
      title: 'Retention',
      labels: ['instagram', 'tiktok'],
      series: [
        { name: '30 days', values: [80, 40] },
        { name: '90 days', values: [60, 0] },
      ],
      format: (v) => `${v}%`,
    });
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(4);
    expect(widths[1]! / widths[0]!).toBeCloseTo(0.75, 2);
    expect(widths[2]! / widths[0]!).toBeCloseTo(0.5, 2);
    expect(widths[3]).toBe(0);
    expect(svg).toContain('>80%<');
    expect(svg).not.toContain('<path');
  });

  it('never clips a label, however long', () => {
    const svg = barChart({ title: 'Reasons', labels: ['too expensive for what it is', 'x'], series: [{ name: 'n', values: [3, 12000] }] });
    for (const t of textExtents(svg)) {
      expect(t.from, t.text).toBeGreaterThanOrEqual(0);
      expect(t.to, t.text).toBeLessThanOrEqual(640);
    }
  });
});

describe('line and heatmap labels', () => {
  it('fit a currency on the y axis and long cohort labels', () => {
    const line = lineChart({
      title: 'MRR',
      labels: ['a', 'b'],
      series: [{ name: 'MRR', values: [0, 1_234_500] }],
      format: (c) => `$${(c / 100).toFixed(2)}`,
    });
    expect(line).toContain('$12345.00');
    for (const t of textExtents(line)) expect(t.from, t.text).toBeGreaterThanOrEqual(0);
    const map = heatmap({ title: 'Cohorts', rows: [{ label: '2026-11-23 (12,345 members)', cells: [1] }] });
    for (const t of textExtents(map)) expect(t.from, t.text).toBeGreaterThanOrEqual(0);
  });
});
