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
}

const PALETTE = ['#2f6f4e', '#c0562f', '#3b5b92', '#8a6d1f'];

/** One or more lines over shared labels (days, weeks, hours), with a zero-based y axis. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 180;
  const pad = { left: 44, right: 8, top: 10, bottom: 22 };
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
    `<text x="${pad.left - 4}" y="${(pad.top + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(max)}</text>`,
    `<text x="${pad.left - 4}" y="${(y(min) + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(min)}</text>`,
    `<text x="${pad.left}" y="${height - 6}" fill="#555">${esc(first)}</text>`,
    `<text x="${width - pad.right}" y="${height - 6}" text-anchor="end" fill="#555">${esc(last)}</text>`,
    ...lines,
    `<text x="${pad.left}" y="${height + 12}">${legend}</text>`,
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
  const left = 84;
  const top = 18;
  const width = left + cols * cell + 4;
  const height = top + o.rows.length * 20 + 4;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" class="chart heatmap" font-family="system-ui, sans-serif" font-size="10">`,
    `<title>${esc(o.title)}</title>`,
  ];
  for (let i = 0; i < cols; i++) {
    parts.push(
      `<text x="${left + i * cell + cell / 2}" y="12" text-anchor="middle" fill="#555">${esc(o.columnLabel ? o.columnLabel(i) : String(i))}</text>`,
    );
  }
  o.rows.forEach((r, j) => {
    const yy = top + j * 20;
    parts.push(`<text x="${left - 4}" y="${yy + 14}" text-anchor="end" fill="#333">${esc(r.label)}</text>`);
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
