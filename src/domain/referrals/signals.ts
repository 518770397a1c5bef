import { isIPv4, isIPv6 } from 'node:net';

/**
 * What the fraud guards look at, reduced so that nothing identifies a person: the network a
 * request came from (an IPv4 /24 or an IPv6 /48, never the address), a coarse browser class
 * ("chrome/124 windows"), and the mailbox an address really lands in. Pure functions; the
 * caller keeps only HMACs of the first two.
 */

/** The /24 (IPv4) or /48 (IPv6) network of an address, or null when it is not an IP address. */
export function networkOf(address: string): string | null {
  let a = address
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) a = mapped[1]!;
  if (isIPv4(a)) return `${a.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(a)) return null;
  const groups = expandIPv6(a);
  return groups ? `${groups.slice(0, 3).join(':')}::/48` : null;
}

/** The eight groups of an IPv6 address, each lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] | null {
  const halves = address.toLowerCase().split('::');
  if (halves.length > 2) return null;
  const part = (s: string | undefined): string[] => {
    if (!s) return [];
    const out: string[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        // An embedded IPv4 tail (64:ff9b::1.2.3.4) is two groups.
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
      } else {
        out.push(parseInt(g, 16).toString(16));
      }
    }
    return out;
  };
  const left = part(halves[0]);
  const right = part(halves[1]);
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  return [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
}

/**
 * A browser class: family and major version, and the operating system. Coarse on purpose: many
 * people share one, so it only means something as a burst of referrals for one referrer.
 */
export function deviceClass(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').trim();
  if (ua === '') return 'none';
  if (/curl|wget|python|go-http|java\/|okhttp|axios|libwww|httpclient|^node|undici|bot\b|spider|crawl/i.test(ua)) return 'script';
  const browsers: Array<[string, RegExp]> = [
    ['headless-chrome', /HeadlessChrome\/(\d+)/],
    ['edge', /Edg(?:e|A|iOS)?\/(\d+)/],
    ['opera', /OPR\/(\d+)/],
    ['samsung', /SamsungBrowser\/(\d+)/],
    ['firefox', /(?:Firefox|FxiOS)\/(\d+)/],
    ['chrome', /(?:Chrome|CriOS)\/(\d+)/],
    ['safari', /Version\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari/],
  ];
  let browser = 'other';
  for (const [name, re] of browsers) {
    const m = re.exec(ua);
    if (m) {
      browser = `${name}/${m[1]}`;
      break;
    }
  }
  const systems: Array<[string, RegExp]> = [
    ['windows', /Windows/],
    ['android', /Android/],
    ['ios', /iPhone|iPad|iPod/],
    ['chromeos', /CrOS/],
    ['macos', /Mac OS X|Macintosh/],
    ['linux', /Linux/],
  ];
  const os = systems.find(([, re]) => re.test(ua))?.[0] ?? 'other';
  return `${browser} ${os}`;
}

/**
 * The mailbox an address delivers to: lower case, without a +tag, and for Gmail without dots
 * (jo.ann+x@googlemail.com and joann@gmail.com are one person's mailbox).
 */
export function canonicalMailbox(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return email.trim().toLowerCase();
  let local = email.slice(0, at).trim().toLowerCase();
  let domain = email
    .slice(at + 1)
    .trim()
    .toLowerCase();
  local = local.split('+')[0]!;
  if (domain === 'googlemail.com') domain = 'gmail.com';
  if (domain === 'gmail.com') local = local.replaceAll('.', '');
  return `${local}@${domain}`;
}
