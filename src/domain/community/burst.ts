/**
 * Burst detection: several new accounts posting near-identical text within minutes is the mark
 * of an orchestrated attack. Pure: the caller loads the recent comments, this decides.
 *
 * Texts are compared by their fingerprint (lower case, compatibility-normalised, common
 * Cyrillic/Greek look-alikes mapped to Latin, invisible characters, accents and punctuation
 * removed) as sets of character trigrams (Jaccard similarity), so swapped punctuation, added
 * emoji, zero-width characters or a changed word do not make a copy look new.
 */
export const BURST_RULE = {
  /** How far back to look. */
  windowMinutes: 10,
  /** This many different new accounts, the newcomer included, make a burst. */
  accounts: 3,
  /** Jaccard similarity of trigram sets from which two texts count as the same. */
  similarity: 0.7,
  /** Shorter texts ("Thanks!", "Great post") are too common to tell anything. */
  minLength: 16,
};
export type BurstRule = typeof BURST_RULE;

const LOOKALIKES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ɡ: 'g',
  ӏ: 'l',
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ω: 'w',
  '0': 'o',
  '1': 'l',
  '3': 'e',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};
const MAX_FINGERPRINT = 2_000;

export function fingerprint(body: string): string {
  const folded = body
    .normalize('NFKD')
    .replace(/[\p{M}\p{Cf}]/gu, '')
    .toLowerCase()
    .replace(/[^\s]/gu, (c) => LOOKALIKES[c] ?? c)
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  return folded.slice(0, MAX_FINGERPRINT);
}

function trigrams(text: string): Set<string> {
  const s = ` ${text} `;
  const out = new Set<string>();
  for (let i = 0; i + 3 <= s.length; i++) out.add(s.slice(i, i + 3));
  return out;
}

/** Jaccard similarity of two fingerprints' trigram sets: 1 for the same text, 0 for nothing shared. */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  const ta = trigrams(a);
  const tb = trigrams(b);
  let shared = 0;
  for (const t of ta) if (tb.has(t)) shared++;
  return shared / (ta.size + tb.size - shared);
}

export interface RecentComment {
  id: string;
  memberId: string;
  fingerprint: string;
  /** The author's account is new (younger than the site's "new member" days). */
  newAccount: boolean;
}

export interface BurstVerdict {
  burst: boolean;
  /** The earlier comments of the burst (to hold them too). */
  matches: string[];
}

/**
 * Whether a new comment completes a burst: it comes from a new account and near-identical
 * comments from at least `accounts - 1` other new accounts arrived within the window.
 */
export function detectBurst(
  candidate: { memberId: string; fingerprint: string; newAccount: boolean },
  recent: readonly RecentComment[],
  rule: BurstRule = BURST_RULE,
): BurstVerdict {
  const none = { burst: false, matches: [] };
  if (!candidate.newAccount || candidate.fingerprint.length < rule.minLength) return none;
  const matches = recent.filter(
    (r) =>
      r.newAccount &&
      r.memberId !== candidate.memberId &&
      r.fingerprint.length >= rule.minLength &&
      similarity(candidate.fingerprint, r.fingerprint) >= rule.similarity,
  );
  const accounts = new Set(matches.map((m) => m.memberId)).size + 1;
  return accounts >= rule.accounts ? { burst: true, matches: matches.map((m) => m.id) } : none;
}
