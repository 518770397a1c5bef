import type { Cohorts, Overview, PostStats, SendStats, Sources } from './read.ts';

/**
 * The stats tables as CSV, one generator per table (header first). Cells are quoted where
 * needed, and a cell that a spreadsheet would read as a formula (=, +, -, @) is defused with a
 * leading apostrophe, as the members export does. Rates are fractions (0.5, not 50%).
 */
export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
  // A negative number is a number, not a formula: left as it is.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function* table(header: string[], rows: unknown[][]): Generator<string> {
  yield header.join(',') + '\n';
  for (const r of rows) yield r.map(csvCell).join(',') + '\n';
}

export async function* overviewCsv(o: Overview): AsyncGenerator<string> {
  yield* table(
    ['day', 'joined', 'left', 'net', 'members', 'mrr_cents', 'mrr_new_cents', 'mrr_lost_cents'],
    o.days.map((d) => [d.day, d.joined, d.left, d.net, d.members, d.mrr_cents, d.mrr_new_cents, d.mrr_lost_cents]),
  );
}

const SOURCE_COLUMNS = [
  'signups',
  'confirmed',
  'confirmation_rate',
  'retained_30',
  'retained_30_rate',
  'retained_90',
  'retained_90_rate',
  'emailed',
  'engaged',
  'engaged_rate',
  'paid',
  'paid_rate',
  'mrr_cents',
] as const;

export async function* sourcesCsv(s: Sources): AsyncGenerator<string> {
  yield* table(
    ['dimension', 'key', ...SOURCE_COLUMNS],
    [
      ...s.platforms.map((p) => ['platform', p.platform, ...SOURCE_COLUMNS.map((c) => p[c])]),
      ...s.campaigns.map((p) => ['campaign', p.campaign, ...SOURCE_COLUMNS.map((c) => p[c])]),
    ],
  );
}

export async function* cohortsCsv(c: Cohorts): AsyncGenerator<string> {
  yield* table(
    ['platform', 'signup_week', 'members', 'week', 'subscribed', 'subscribed_rate', 'engaged', 'engaged_rate'],
    c.cohorts.flatMap((w) =>
      w.weeks.map((k) => [c.platform ?? 'all', w.week, w.members, k.offset, k.subscribed, k.subscribed_rate, k.engaged, k.engaged_rate]),
    ),
  );
}

export async function* sendLinksCsv(s: SendStats): AsyncGenerator<string> {
  yield* table(
    ['send_id', 'link', 'url', 'human_clicks', 'unique_human_clicks', 'machine_clicks'],
    s.links.map((l) => [s.send.id, l.link, l.url, l.human_clicks, l.unique_human_clicks, l.machine_clicks]),
  );
}

export async function* postDaysCsv(p: PostStats): AsyncGenerator<string> {
  yield* table(
    ['post_id', 'day', 'member_reads', 'anonymous_views'],
    p.days.map((d) => [p.post_id, d.day, d.reads, d.views]),
  );
}
