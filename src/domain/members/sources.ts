/**
 * Where a member came from, as a platform name (DESIGN.md's list), from what the subscribe
 * request carries: the landing page's platform, utm_source, the `ref` code, and the Referer.
 * The first touch is kept forever: this runs once, when the member row is made.
 */
export const PLATFORMS = [
  'instagram',
  'tiktok',
  'x',
  'threads',
  'bluesky',
  'mastodon',
  'fediverse',
  'linkedin',
  'facebook',
  'youtube',
  'reddit',
  'referral',
  'import',
  'direct',
  'other',
] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Platforms a reader can arrive from by a landing page (/join/:platform). */
export const SOCIAL_PLATFORMS = PLATFORMS.filter((p) => !['referral', 'import', 'direct', 'other'].includes(p));

export function isPlatform(value: string): value is Platform {
  return (PLATFORMS as readonly string[]).includes(value);
}

/** Hosts (and their subdomains) of each platform's web, app link shims and short links. */
const HOSTS: Array<[Platform, string[]]> = [
  ['instagram', ['instagram.com', 'l.instagram.com', 'instagr.am', 'ig.me']],
  ['tiktok', ['tiktok.com', 'vm.tiktok.com', 'tiktokv.com']],
  ['x', ['x.com', 'twitter.com', 't.co']],
  ['threads', ['threads.net', 'threads.com', 'l.threads.net', 'l.threads.com']],
  ['bluesky', ['bsky.app', 'bsky.social', 'go.bsky.app']],
  ['linkedin', ['linkedin.com', 'lnkd.in']],
  ['facebook', ['facebook.com', 'fb.com', 'fb.me', 'm.facebook.com', 'l.facebook.com', 'lm.facebook.com', 'messenger.com']],
  ['youtube', ['youtube.com', 'youtu.be', 'm.youtube.com']],
  ['reddit', ['reddit.com', 'redd.it', 'old.reddit.com', 'out.reddit.com']],
  // Mastodon has thousands of instances; the well-known ones are recognised by host, the rest by utm_source.
  [
    'mastodon',
    ['mastodon.social', 'mastodon.online', 'mstdn.social', 'fosstodon.org', 'hachyderm.io', 'infosec.exchange', 'mas.to', 'mastodon.world'],
  ],
];

/** utm_source values people actually use for each platform. */
const SOURCE_ALIASES: Array<[Platform, string[]]> = [
  ['instagram', ['instagram', 'ig', 'insta']],
  ['tiktok', ['tiktok', 'tt']],
  ['x', ['x', 'twitter', 'tw']],
  ['threads', ['threads']],
  ['bluesky', ['bluesky', 'bsky']],
  ['mastodon', ['mastodon']],
  ['fediverse', ['fediverse', 'fedi', 'activitypub']],
  ['linkedin', ['linkedin', 'li']],
  ['facebook', ['facebook', 'fb', 'meta']],
  ['youtube', ['youtube', 'yt']],
  ['reddit', ['reddit']],
  ['referral', ['referral']],
];

/** The platform of a Referer URL (or host), or null when it is not a known platform's. */
export function platformFromReferrer(referrer: string | null | undefined): Platform | null {
  if (!referrer) return null;
  let host: string;
  try {
    host = new URL(referrer.includes('://') ? referrer : `https://${referrer}`).hostname.toLowerCase();
  } catch {
    return null;
  }
  host = host.replace(/^www\./, '');
  for (const [platform, hosts] of HOSTS) {
    if (hosts.some((h) => host === h || host.endsWith(`.${h}`))) return platform;
  }
  return null;
}

/** The platform named by a utm_source, or null. Mastodon instances often send their own host. */
export function platformFromUtmSource(source: string | null | undefined): Platform | null {
  if (!source) return null;
  const s = source.trim().toLowerCase();
  for (const [platform, aliases] of SOURCE_ALIASES) if (aliases.includes(s)) return platform;
  return platformFromReferrer(s) ?? (/mastodon|mstdn|toot/.test(s) ? 'mastodon' : null);
}

export interface SourceInput {
  /** The landing page's platform (/join/:platform), when the form was on one. */
  landingPlatform?: string | null | undefined;
  utmSource?: string | null | undefined;
  ref?: string | null | undefined;
  referrer?: string | null | undefined;
  /** The site's own host: a Referer from our own pages is not a source. */
  siteHost?: string | undefined;
}

/**
 * The order of evidence: an explicit landing page, then utm_source (set by the brand on its own
 * links), then a referral code, then the Referer's host; otherwise direct (no referrer) or
 * other (a referrer we do not know).
 */
export function attributePlatform(input: SourceInput): Platform {
  // Only a social platform's landing page can name the source; a form cannot claim "import".
  if (input.landingPlatform && (SOCIAL_PLATFORMS as readonly string[]).includes(input.landingPlatform))
    return input.landingPlatform as Platform;
  const fromUtm = platformFromUtmSource(input.utmSource);
  if (fromUtm) return fromUtm;
  if (input.ref) return 'referral';
  const fromReferrer = platformFromReferrer(input.referrer);
  if (fromReferrer) return fromReferrer;
  const referrerHost = externalReferrerHost(input.referrer, input.siteHost);
  if (input.utmSource || referrerHost) return 'other';
  return 'direct';
}

/** The Referer's host when it is another site's, else null (ours, missing, or malformed). */
export function externalReferrerHost(referrer: string | null | undefined, siteHost?: string): string | null {
  if (!referrer) return null;
  try {
    const host = new URL(referrer).hostname.toLowerCase();
    if (siteHost && host === siteHost.toLowerCase()) return null;
    return host || null;
  } catch {
    return null;
  }
}
