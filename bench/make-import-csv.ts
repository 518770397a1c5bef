/**
 * Writes a realistic member export for the import benchmark: Mailchimp's "subscribed" columns,
 * about 2% invalid addresses and about 1% repeats of an earlier address in another case.
 * Usage: node bench/make-import-csv.ts N FILE
 * The same N always gives the same file (a seeded generator), so runs compare.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

const HEADER = [
  'Email Address',
  'First Name',
  'Last Name',
  'Address',
  'Phone Number',
  'Birthday',
  'Company',
  'MEMBER_RATING',
  'OPTIN_TIME',
  'OPTIN_IP',
  'CONFIRM_TIME',
  'CONFIRM_IP',
  'LATITUDE',
  'LONGITUDE',
  'GMTOFF',
  'DSTOFF',
  'TIMEZONE',
  'CC',
  'REGION',
  'LAST_CHANGED',
  'LEID',
  'EUID',
  'NOTES',
  'TAGS',
];
const FIRST = ['Ana', 'Ben', 'Chloé', 'Dev', 'Emeka', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jia', 'Kofi', 'Lena', 'Zoë', 'Ömer', 'María José'];
const LAST = ['Silva', 'Okafor', 'Nguyen', 'Müller', 'Rossi', 'Kim', 'Haddad', 'Larsen', 'Tanaka', "O'Brien", 'García Márquez'];
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'proton.me', 'example.org', 'fieldnotes.coffee'];
const TAGS = ['"Early readers"', '"Podcast, guests"', '"Instagram giveaway"', '"Customer"', '"Wholesale"'];
const ZONES: Array<[string, string, number]> = [
  ['America/New_York', 'US', -5],
  ['Europe/Berlin', 'DE', 1],
  ['Europe/London', 'GB', 0],
  ['Asia/Tokyo', 'JP', 9],
  ['America/Sao_Paulo', 'BR', -3],
];
const BAD = ['not-an-email', 'someone@', '@example.com', 'two@@example.com', 'space in@example.com', 'dot@example'];

/** mulberry32: small, fast, seeded. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number) => String(n).padStart(2, '0');
function stamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function quote(cell: string): string {
  return /[",\n\r]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** Writes N data rows (plus the header) to `file`; answers how many are invalid and repeated. */
export async function writeImportCsv(
  rows: number,
  file: string,
): Promise<{ rows: number; invalid: number; duplicates: number; bytes: number }> {
  const random = generator(rows);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (line: string) => {
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${HEADER.join(',')}\n`);
  const start = Date.UTC(2016, 0, 1);
  const span = Date.UTC(2025, 0, 1) - start;
  let invalid = 0;
  let duplicates = 0;
  for (let i = 1; i <= rows; i++) {
    const r = random();
    let email: string;
    if (r < 0.02) {
      email = pick(BAD);
      invalid++;
    } else if (r < 0.03 && i > 100) {
      // An earlier row's address, in upper case: the same person to a case-insensitive match.
      const earlier = 1 + Math.floor(random() * (i - 1));
      email = `reader${earlier}@${DOMAINS[earlier % DOMAINS.length]}`.toUpperCase();
      duplicates++;
    } else {
      email = `reader${i}@${DOMAINS[i % DOMAINS.length]}`;
    }
    const optin = start + Math.floor(random() * span);
    const [zone, country, offset] = pick(ZONES);
    const cells = [
      email,
      random() < 0.8 ? pick(FIRST) : '',
      random() < 0.7 ? pick(LAST) : '',
      '',
      random() < 0.1 ? `+1 555 ${String(Math.floor(random() * 1e7)).padStart(7, '0')}` : '',
      '',
      random() < 0.05 ? 'Acme, Inc.' : '',
      String(1 + Math.floor(random() * 5)),
      stamp(optin),
      `203.0.113.${Math.floor(random() * 255)}`,
      stamp(optin + 60_000),
      `198.51.100.${Math.floor(random() * 255)}`,
      (random() * 180 - 90).toFixed(7),
      (random() * 360 - 180).toFixed(7),
      String(offset),
      '0',
      zone,
      country,
      '',
      stamp(optin + 86_400_000),
      String(100_000_000 + i),
      ((i * 2654435761) >>> 0).toString(16).padStart(10, '0'),
      '',
      random() < 0.3 ? `${pick(TAGS)},${pick(TAGS)}` : '',
    ];
    await write(`${cells.map(quote).join(',')}\n`);
  }
  out.end();
  await once(out, 'finish');
  return { rows, invalid, duplicates, bytes };
}

if (import.meta.main) {
  const rows = Number(process.argv[2]);
  const file = process.argv[3];
  if (!Number.isInteger(rows) || rows < 0 || !file) {
    console.error('usage: node bench/make-import-csv.ts N FILE');
    process.exit(2);
  }
  console.log(JSON.stringify({ file, ...(await writeImportCsv(rows, file)) }));
}
