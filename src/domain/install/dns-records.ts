import type { DnsAnswer, DnsLookup } from '../../lib/dns.ts';

/**
 * The sender domain's mail records, as Resend asks for them: SPF on the `send.` subdomain (its
 * return path: Resend's SPF include, or the CNAME newer Resend domains get), DKIM under Resend's
 * selector `resend._domainkey`, and a DMARC policy at `_dmarc`. Each check says found / missing /
 * could not check, and the record to add when it is missing.
 *
 * Answers are kept briefly (a minute; a failed lookup 10 seconds), so the dashboard does not ask
 * the DNS at every load and a record just added shows after "Check again" (`fresh`).
 */
export type RecordState = 'found' | 'missing' | 'unknown';

export interface RecordCheck {
  state: RecordState;
  /** What was found, or why nothing is known. */
  detail: string;
  /** The record to add when it is missing (or could not be checked). */
  record: { type: 'TXT'; name: string; value: string };
}

export interface DomainChecks {
  spf: RecordCheck;
  dkim: RecordCheck;
  dmarc: RecordCheck;
}

const FOUND_TTL_MS = 60_000;
const UNKNOWN_TTL_MS = 10_000;
const cache = new Map<string, { until: number; answer: DnsAnswer }>();
const CACHE_SIZE = 200;

async function cached(key: string, fresh: boolean, ask: () => Promise<DnsAnswer>): Promise<DnsAnswer> {
  const hit = cache.get(key);
  if (!fresh && hit && hit.until > Date.now()) return hit.answer;
  const answer = await ask();
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, { until: Date.now() + (answer.kind === 'unknown' ? UNKNOWN_TTL_MS : FOUND_TTL_MS), answer });
  return answer;
}

/** Looks for a TXT record matching `wanted`, else (when `cnameCounts`) any CNAME at the name. */
async function lookFor(
  dns: DnsLookup,
  name: string,
  wanted: (value: string) => boolean,
  options: { fresh: boolean; cnameCounts: boolean },
): Promise<{ state: RecordState; detail: string }> {
  // Both questions at once: a dead server costs one timeout, not two.
  const [txt, cnameAnswer] = await Promise.all([
    cached(`txt:${name}`, options.fresh, () => dns.txt(name)),
    options.cnameCounts ? cached(`cname:${name}`, options.fresh, () => dns.cname(name)) : Promise.resolve(undefined),
  ]);
  const match = txt.kind === 'found' ? txt.values.find(wanted) : undefined;
  if (match) return { state: 'found', detail: `TXT ${name}: ${match.length > 80 ? `${match.slice(0, 77)}…` : match}` };
  const cname = cnameAnswer;
  if (cname) {
    if (cname.kind === 'found') return { state: 'found', detail: `CNAME ${name} → ${cname.values[0]}` };
    if (cname.kind === 'unknown' && txt.kind !== 'unknown') return { state: 'unknown', detail: `could not check ${name}: ${cname.reason}` };
  }
  if (txt.kind === 'unknown') return { state: 'unknown', detail: `could not check ${name}: ${txt.reason}` };
  return { state: 'missing', detail: `no matching record at ${name}` };
}

export async function checkSenderDomain(dns: DnsLookup, domain: string, options: { fresh?: boolean } = {}): Promise<DomainChecks> {
  const fresh = options.fresh ?? false;
  const spfName = `send.${domain}`;
  const dkimName = `resend._domainkey.${domain}`;
  const dmarcName = `_dmarc.${domain}`;
  const [spf, dkim, dmarc] = await Promise.all([
    lookFor(dns, spfName, (v) => /^v=spf1\s/i.test(v), { fresh, cnameCounts: true }),
    lookFor(dns, dkimName, (v) => /(^|;)\s*p=[A-Za-z0-9+/=]{16,}/.test(v), { fresh, cnameCounts: true }),
    lookFor(dns, dmarcName, (v) => /^v=DMARC1\s*(;|$)/i.test(v), { fresh, cnameCounts: false }),
  ]);
  return {
    spf: { ...spf, record: { type: 'TXT', name: spfName, value: 'v=spf1 include:amazonses.com ~all' } },
    dkim: { ...dkim, record: { type: 'TXT', name: dkimName, value: 'p=… (the public key Resend shows for your domain)' } },
    dmarc: { ...dmarc, record: { type: 'TXT', name: dmarcName, value: `v=DMARC1; p=none; rua=mailto:dmarc@${domain}` } },
  };
}

/** Forget every cached answer (tests). */
export function clearDnsCache(): void {
  cache.clear();
}
