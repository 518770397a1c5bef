import { describe, expect, it } from 'vitest';
import { heatmap, lineChart } from '../../src/domain/stats/charts.ts';
import { cohortsCsv, csvCell } from '../../src/domain/stats/csv.ts';
import { engagementScore, levelsFromFlows, rate, weekly } from '../../src/domain/stats/definitions.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000);
const none = { clicks: 0, reads: 0, comments: 0, reactions: 0, lastEngagedAt: null };

describe('engagementScore', () => {
  it('scores clicks, reads and conversation, at most 5, with its reasons', () => {
    expect(engagementScore({ ...none, clicks: 1 }, daysAgo(10), NOW)).toEqual({ score: 1, reasons: ['1 click in 30 days'], cold: false });
    expect(engagementScore({ clicks: 4, reads: 3, comments: 1, reactions: 2, lastEngagedAt: daysAgo(1) }, daysAgo(400), NOW)).toEqual({
      score: 5,
      reasons: ['4 clicks in 30 days', '3 reads in 30 days', '1 comment and 2 reactions in 30 days'],
      cold: false,
    });
    expect(engagementScore({ ...none, reads: 2 }, daysAgo(10), NOW).score).toBe(1);
  });

  it('flags cold after 90 days without human engagement, never a new member', () => {
    expect(engagementScore({ ...none, lastEngagedAt: daysAgo(91) }, daysAgo(200), NOW)).toMatchObject({
      score: 0,
      cold: true,
      reasons: ['no human engagement in 90 days'],
    });
    expect(engagementScore(none, daysAgo(200), NOW).cold).toBe(true);
    expect(engagementScore({ ...none, lastEngagedAt: daysAgo(89) }, daysAgo(200), NOW).cold).toBe(false);
    expect(engagementScore(none, daysAgo(30), NOW)).toMatchObject({ cold: false, reasons: ['no human engagement in 30 days'] });
  });
});

describe('derivations', () => {
  it('a rate of nothing is null, not 0', () => {
    expect(rate(1, 4)).toBe(0.25);
    expect(rate(0, 0)).toBeNull();
  });

  it('rebuilds levels backwards from today and the daily flows, and groups weeks from Monday', () => {
    const days = [
      { day: '2026-06-13', joined: 2, left: 0, mrrNew: 500, mrrLost: 0 },
      { day: '2026-06-14', joined: 1, left: 1, mrrNew: 0, mrrLost: 500 },
      { day: '2026-06-15', joined: 3, left: 1, mrrNew: 400, mrrLost: 0 },
    ];
    const levels = levelsFromFlows(days, 10, 900);
    expect(levels.map((d) => [d.members, d.mrr, d.net])).toEqual([
      [8, 1000, 2],
      [8, 500, 0],
      [10, 900, 2],
    ]);
    expect(weekly(levels)).toEqual([
      { week: '2026-06-08', joined: 3, left: 1, net: 2, mrrNew: 500, mrrLost: 500, members: 8, mrr: 500 },
      { week: '2026-06-15', joined: 3, left: 1, net: 2, mrrNew: 400, mrrLost: 0, members: 10, mrr: 900 },
    ]);
  });
});

describe('charts', () => {
  it('draws a line chart as one self-contained SVG, text escaped', () => {
    const svg = lineChart({ title: 'Members <all>', labels: ['a', 'b', 'c'], series: [{ name: 'x&y', values: [0, 5, 10] }] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<title>Members &lt;all&gt;</title>');
    expect(svg).toContain('x&amp;y');
    expect(svg).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(svg).not.toContain('<script');
    // The top point (10) sits at the top padding, the first (0) on the axis.
    expect(svg).toMatch(/M44\.0,\d+\.\dL\d+\.\d,\d+\.\dL632\.0,10\.0/);
  });

  it('draws a heatmap with a cell per known share and none for weeks to come', () => {
    const svg = heatmap({ title: 'Cohorts', rows: [{ label: 'w1', cells: [1, 0.5, null] }] });
    expect(svg.match(/<rect/g)).toHaveLength(2);
    expect(svg).toContain('w1, week 1: 50%');
  });
});

describe('CSV', () => {
  it('quotes and defuses formulas but keeps negative numbers', () => {
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
    expect(csvCell('-3')).toBe('-3');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell(null)).toBe('');
  });

  it('writes the cohorts table one cell a line', async () => {
    const lines: string[] = [];
    for await (const l of cohortsCsv({
      platform: null,
      cohorts: [
        { week: '2026-06-01', members: 2, weeks: [{ offset: 0, subscribed: 2, engaged: 1, subscribed_rate: 1, engaged_rate: 0.5 }] },
      ],
    }))
      lines.push(l);
    expect(lines.join('')).toBe(
      'platform,signup_week,members,week,subscribed,subscribed_rate,engaged,engaged_rate\nall,2026-06-01,2,0,2,1,1,0.5\n',
    );
  });
});
