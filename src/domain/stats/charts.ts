/**
 * Charts as SVG strings, drawn on the server: no chart library, no client script, nothing from
 * another origin. Pure functions of their data (tested in test/unit/stats.test.ts). Every chart
 * carries a <title> for screen readers; the tables beside the charts hold the exact figures.
 */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Math.abs(v) >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 100) / 100));

export interface Series {
  name: string;
  values: number[];
  /** A CSS colour; the page's palette by default. */
  color?: string;
}

export interface LineChartOptions {
  title: string;
  labels: string[];
  series: Series[];
  width?: number;
  height?: number;
  /** How the y axis's figures read (a currency, a percentage); plain numbers by default. */
  format?: (v: number) => string;
}

const PALETTE = ['#2f6f4e', '#c0562f', '#3b5b92', '#8a6d1f'];

/** One or more lines over time (days, weeks, hours), with a zero-based y axis. Categories get barChart. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 180;
  const yLabel = o.format ?? fmt;
  const all0 = o.series.flatMap((s) => s.values);
  // The y axis's column fits its widest figure, so a figure like "$12,345.00" never clips.
  const yWidth = Math.max(yLabel(Math.max(1, ...all0)).length, yLabel(Math.min(0, ...all0)).length);
  const pad = { left: Math.max(44, 10 + yWidth * 6.5), right: 8, top: 10, bottom: 22 };
  const all = o.series.flatMap((s) => s.values);
  const max = Math.max(1, ...all);
  const min = Math.min(0, ...all);
  const n = Math.max(1, o.labels.length - 1);
  const x = (i: number) => pad.left + (i / n) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - (v - min) / (max - min)) * (height - pad.top - pad.bottom);
  const lines = o.series.map((s, k) => {
    const d = s.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${esc(s.color ?? PALETTE[k % PALETTE.length]!)}" stroke-width="2"><title>${esc(s.name)}</title></path>`;
  });
  const first = o.labels[0] ?? '';
  const last = o.labels.at(-1) ?? '';
  const legend = o.series.map((s, k) => `<tspan fill="${esc(s.color ?? PALETTE[k % PALETTE.length]!)}">■ ${esc(s.name)}</tspan>`).join(' ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height + 16}" width="100%" role="img" class="chart" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${esc(o.title)}</title>`,
    `<line x1="${pad.left}" y1="${y(0).toFixed(1)}" x2="${width - pad.right}" y2="${y(0).toFixed(1)}" stroke="#bbb"/>`,
    `<text x="${pad.left - 4}" y="${(pad.top + 4).toFixed(1)}" text-anchor="end" fill="currentColor" opacity="0.75">${esc(yLabel(max))}</text>`,
    `<text x="${pad.left - 4}" y="${(y(min) + 4).toFixed(1)}" text-anchor="end" fill="currentColor" opacity="0.75">${esc(yLabel(min))}</text>`,
    `<text x="${pad.left}" y="${height - 6}" fill="currentColor" opacity="0.75">${esc(first)}</text>`,
    `<text x="${width - pad.right}" y="${height - 6}" text-anchor="end" fill="currentColor" opacity="0.75">${esc(last)}</text>`,
    ...lines,
    `<text x="${pad.left}" y="${height + 12}" fill="currentColor">${legend}</text>`,
    '</svg>',
  ].join('');
}

export interface HeatmapRow {
  label: string;
  /** Shares 0..1, or null where the week has not come yet. */
  cells: Array<number | null>;
}

/** A grid of shares (cohort × week since signup), darker for higher, the percentage in each cell. */
export function heatmap(o: { title: string; rows: HeatmapRow[]; columnLabel?: (i: number) => string }): string {
  const cols = Math.max(1, ...o.rows.map((r) => r.cells.length));
  const cell = 30;
  // The row labels' column fits the longest label ("2026-11-23 (1,204)"), so none clips.
  const left = Math.max(84, 8 + Math.max(0, ...o.rows.map((r) => r.label.length)) * 6.2);
  const top = 18;
  const width = left + cols * cell + 4;
  const height = top + o.rows.length * 20 + 4;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" class="chart heatmap" font-family="system-ui, sans-serif" font-size="10">`,
    `<title>${esc(o.title)}</title>`,
  ];
  for (let i = 0; i < cols; i++) {
    parts.push(
      `<text x="${left + i * cell + cell / 2}" y="12" text-anchor="middle" fill="currentColor" opacity="0.75">${esc(o.columnLabel ? o.columnLabel(i) : String(i))}</text>`,
    );
  }
  o.rows.forEach((r, j) => {
    const yy = top + j * 20;
    parts.push(`<text x="${left - 4}" y="${yy + 14}" text-anchor="end" fill="currentColor">${esc(r.label)}</text>`);
    r.cells.forEach((v, i) => {
      if (v === null) return;
      const share = Math.max(0, Math.min(1, v));
      const light = Math.round(95 - share * 60);
      const pct = Math.round(share * 100);
      parts.push(
        `<rect x="${left + i * cell}" y="${yy}" width="${cell - 1}" height="19" fill="hsl(150 40% ${light}%)"><title>${esc(r.label)}, week ${i}: ${pct}%</title></rect>`,
        `<text x="${left + i * cell + cell / 2}" y="${yy + 13}" text-anchor="middle" fill="${light < 60 ? '#fff' : '#222'}">${pct}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface BarChartOptions {
  title: string;
  /** One row per category (a platform, a reason). */
  labels: string[];
  series: Series[];
  width?: number;
  format?: (v: number) => string;
}

/**
 * Categories as horizontal bars: one row per label, one bar per series, the figure at the bar's
 * end. Labels sit in their own column sized to the longest, so none clips; a category axis is
 * never drawn as a line (a line between platforms would suggest an order that is not there).
 */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 640;
  const format = o.format ?? fmt;
  const bar = 12;
  const rowHeight = o.series.length * (bar + 2) + 8;
  const left = Math.min(width / 2, 12 + Math.max(4, ...o.labels.map((l) => l.length)) * 6.5);
  const all = o.series.flatMap((s) => s.values);
  const valueWidth = 10 + Math.max(...all.map((v) => format(v).length), 1) * 6.5;
  const span = width - left - valueWidth;
  const max = Math.max(1, ...all);
  const legendHeight = o.series.length > 1 ? 18 : 0;
  const height = 6 + o.labels.length * rowHeight + legendHeight;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" class="chart bars" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${esc(o.title)}</title>`,
  ];
  o.labels.forEach((label, i) => {
    const top = 6 + i * rowHeight;
    parts.push(
      `<text x="${left - 6}" y="${(top + (rowHeight - 8) / 2 + 4).toFixed(1)}" text-anchor="end" fill="currentColor">${esc(label)}</text>`,
    );
    o.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const y = top + k * (bar + 2);
      const w = Math.max(v > 0 ? 1 : 0, (Math.max(0, v) / max) * span);
      const color = esc(s.color ?? PALETTE[k % PALETTE.length]!);
      parts.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${color}"><title>${esc(label)}, ${esc(s.name)}: ${esc(format(v))}</title></rect>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + bar - 2}" fill="currentColor">${esc(format(v))}</text>`,
      );
    });
  });
  if (legendHeight) {
    const legend = o.series
      .map((s, k) => `<tspan fill="${esc(s.color ?? PALETTE[k % PALETTE.length]!)}">■</tspan> ${esc(s.name)}`)
      .join('   ');
    parts.push(`<text x="${left}" y="${height - 4}" fill="currentColor">${legend}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
