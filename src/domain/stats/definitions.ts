/**
 * The definitions behind every figure, and the pure derivations (rates, the engagement score,
 * series rebuilt from daily flows). No database here: tested in test/unit/stats.test.ts.
 */

/** "Engaged" = a human click, read, comment or reaction within this many days. */
export const ENGAGED_DAYS = 30;
/** "Cold" = no human engagement within this many days (and a member for at least as long). */
export const COLD_DAYS = 90;
/** An unsubscribe, comment or upgrade is credited to the last send the member got within this many days. */
export const ATTRIBUTION_DAYS = 7;
/** The "over time since send" series covers this many hours. */
export const SEND_HOURS = 168;
/** Retention cohorts cover this many signup weeks. */
export const COHORT_WEEKS = 26;

/** part / whole, or null when there is no whole (a rate of nothing is not 0%). */
export function rate(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export interface EngagementCounts {
  clicks: number;
  reads: number;
  comments: number;
  reactions: number;
  lastEngagedAt: Date | null;
}

export interface EngagementScore {
  score: number;
  reasons: string[];
  cold: boolean;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * A member's engagement score, 0–5, from their human engagement in the last ENGAGED_DAYS days:
 * one point for any click, one more for 3 or more; one for any read, one more for 3 or more;
 * one for a comment or a reaction. Opens never count (privacy proxies open every email).
 * Cold: no human engagement in COLD_DAYS days, for a member who has been here that long.
 */
export function engagementScore(counts: EngagementCounts, memberSince: Date, now: Date): EngagementScore {
  const reasons: string[] = [];
  let score = 0;
  if (counts.clicks > 0) {
    score += counts.clicks >= 3 ? 2 : 1;
    reasons.push(`${plural(counts.clicks, 'click', 'clicks')} in ${ENGAGED_DAYS} days`);
  }
  if (counts.reads > 0) {
    score += counts.reads >= 3 ? 2 : 1;
    reasons.push(`${plural(counts.reads, 'read', 'reads')} in ${ENGAGED_DAYS} days`);
  }
  if (counts.comments + counts.reactions > 0) {
    score += 1;
    const parts = [];
    if (counts.comments) parts.push(plural(counts.comments, 'comment', 'comments'));
    if (counts.reactions) parts.push(plural(counts.reactions, 'reaction', 'reactions'));
    reasons.push(`${parts.join(' and ')} in ${ENGAGED_DAYS} days`);
  }
  const day = 86_400_000;
  const coldSince = now.getTime() - COLD_DAYS * day;
  const cold = memberSince.getTime() < coldSince && (counts.lastEngagedAt === null || counts.lastEngagedAt.getTime() < coldSince);
  if (score === 0) reasons.push(cold ? `no human engagement in ${COLD_DAYS} days` : `no human engagement in ${ENGAGED_DAYS} days`);
  return { score: Math.min(5, score), reasons, cold };
}

export interface DayFlow {
  day: string;
  joined: number;
  left: number;
  mrrNew: number;
  mrrLost: number;
}

/**
 * Members and MRR day by day, rebuilt backwards from today's level and each day's flows: the
 * level at the end of day d is today's level less the net flows of the days after d.
 */
export function levelsFromFlows(
  days: DayFlow[],
  members: number,
  mrr: number,
): Array<DayFlow & { members: number; mrr: number; net: number }> {
  const out: Array<DayFlow & { members: number; mrr: number; net: number }> = [];
  let m = members;
  let r = mrr;
  for (let i = days.length - 1; i >= 0; i--) {
    const d = days[i]!;
    out.push({ ...d, net: d.joined - d.left, members: m, mrr: r });
    m -= d.joined - d.left;
    r -= d.mrrNew - d.mrrLost;
  }
  return out.reverse();
}

/** Groups day rows into ISO weeks (Monday first), summing the flows and keeping each week's last level. */
export function weekly<
  T extends { day: string; joined: number; left: number; net: number; mrrNew: number; mrrLost: number; members: number; mrr: number },
>(days: T[]) {
  const weeks = new Map<
    string,
    { week: string; joined: number; left: number; net: number; mrrNew: number; mrrLost: number; members: number; mrr: number }
  >();
  for (const d of days) {
    const date = new Date(`${d.day}T00:00:00Z`);
    const monday = new Date(date.getTime() - ((date.getUTCDay() + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
    const w = weeks.get(monday) ?? { week: monday, joined: 0, left: 0, net: 0, mrrNew: 0, mrrLost: 0, members: 0, mrr: 0 };
    w.joined += d.joined;
    w.left += d.left;
    w.net += d.net;
    w.mrrNew += d.mrrNew;
    w.mrrLost += d.mrrLost;
    w.members = d.members;
    w.mrr = d.mrr;
    weeks.set(monday, w);
  }
  return [...weeks.values()];
}
