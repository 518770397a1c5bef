/**
 * CSV member imports, the pure part: which service a file came from (by its header row), which
 * column feeds which field, and one record → one member or a rejection that staff can read.
 * It works on rows that are already parsed (header names + records of cell strings), so a
 * streaming pipeline can feed it one record at a time; nothing here does I/O or throws per row.
 *
 * Header matching ignores case, surrounding spaces, a UTF-8 BOM, and treats `_`, `-` and runs of
 * spaces alike (`email_address` ≡ `Email Address`). Detection looks at headers with underscores
 * kept, because a service's own spelling (`email_address` vs `Email Address`) is part of what
 * tells two services apart.
 */
import { ValidationError } from '../../lib/errors.ts';
import { emailProblem, normaliseEmail } from '../members/email.ts';

export type ImportFormat = 'generic' | 'mailchimp' | 'substack' | 'ghost' | 'beehiiv' | 'kit' | 'listmonk' | 'hearth';

export const IMPORT_FORMATS: readonly ImportFormat[] = [
  'generic',
  'mailchimp',
  'substack',
  'ghost',
  'beehiiv',
  'kit',
  'listmonk',
  'hearth',
];

export function isImportFormat(value: string): value is ImportFormat {
  return (IMPORT_FORMATS as readonly string[]).includes(value);
}

/** Which column (index into the header row) feeds which field. */
export interface ColumnMapping {
  email: number;
  name?: number;
  firstName?: number;
  lastName?: number;
  status?: number;
  createdAt?: number;
  /** Mailchimp's CONFIRM_TIME: the signup date when OPTIN_TIME is empty. */
  confirmedAt?: number;
  labels?: number;
  utmSource?: number;
  utmMedium?: number;
  utmCampaign?: number;
  referrer?: number;
  /** Ghost's `subscribed_to_emails`. */
  subscribedToEmails?: number;
  /** Substack's `email_disabled`. */
  emailDisabled?: number;
  /** Mailchimp's UNSUB_TIME (only in its unsubscribed export); beehiiv's `unsubscribed_at`. */
  unsubscribedAt?: number;
  /** Mailchimp's CLEAN_TIME (only in its cleaned export: addresses that bounced). */
  cleanedAt?: number;
  /** Ghost's `deleted_at`. */
  deletedAt?: number;
  /** Ghost `note`, Mailchimp `NOTES`, Hearth `notes`. */
  notes?: number;
  /** The source's plan or tier name: Ghost `tiers`, Substack `plan`, beehiiv `tier`, Hearth `tier`. */
  plan?: number;
  /** Substack's `type` (paid, comp, gift, founding). */
  planType?: number;
  /** Ghost's `complimentary_plan`. */
  complimentary?: number;
  /** Substack's `active_subscription`. */
  activeSubscription?: number;
  /** When comp or gift access ends: Substack `expiry`, Hearth `access_until`. */
  accessUntil?: number;
  /** Hearth's `access`: paid, comp or gift. */
  access?: number;
  stripeCustomerId?: number;
  /** The signup date at the first service (beehiiv's `Subscription Date (Substack)`): wins over createdAt. */
  originalCreatedAt?: number;
  /** When the source last changed the member's state (listmonk `updated_at`). */
  stateAt?: number;
  /** Hearth's own export: newsletters (space-separated slugs), platform, ref, referral_code. */
  newsletters?: number;
  platform?: number;
  ref?: number;
  referralCode?: number;
  /** The member's language (`language`, `locale`): a code among the site's languages (`fr`, `fr-FR`, `fr_CA`). */
  language?: number;
}

type Field = keyof ColumnMapping;

/** The order fields are looked up and described in. */
const FIELDS: readonly Field[] = [
  'email',
  'name',
  'firstName',
  'lastName',
  'status',
  'createdAt',
  'confirmedAt',
  'labels',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'referrer',
  'subscribedToEmails',
  'emailDisabled',
  'unsubscribedAt',
  'cleanedAt',
  'deletedAt',
  'notes',
  'plan',
  'planType',
  'complimentary',
  'activeSubscription',
  'accessUntil',
  'access',
  'stripeCustomerId',
  'originalCreatedAt',
  'stateAt',
  'newsletters',
  'platform',
  'ref',
  'referralCode',
  'language',
];

/**
 * The names staff use for fields in a manual mapping (`--map Vorname=first_name`): snake_case,
 * as in the API. `ignore` leaves a column out.
 */
export const FIELD_NAMES: Readonly<Record<string, Field>> = {
  email: 'email',
  name: 'name',
  first_name: 'firstName',
  last_name: 'lastName',
  status: 'status',
  created_at: 'createdAt',
  confirmed_at: 'confirmedAt',
  labels: 'labels',
  utm_source: 'utmSource',
  utm_medium: 'utmMedium',
  utm_campaign: 'utmCampaign',
  referrer: 'referrer',
  subscribed_to_emails: 'subscribedToEmails',
  email_disabled: 'emailDisabled',
  unsubscribed_at: 'unsubscribedAt',
  cleaned_at: 'cleanedAt',
  deleted_at: 'deletedAt',
  notes: 'notes',
  plan: 'plan',
  plan_type: 'planType',
  complimentary: 'complimentary',
  active_subscription: 'activeSubscription',
  access_until: 'accessUntil',
  access: 'access',
  stripe_customer_id: 'stripeCustomerId',
  original_created_at: 'originalCreatedAt',
  state_at: 'stateAt',
  newsletters: 'newsletters',
  platform: 'platform',
  ref: 'ref',
  referral_code: 'referralCode',
  language: 'language',
};

const FIELD_LABELS = new Map<Field, string>(Object.entries(FIELD_NAMES).map(([name, field]) => [field, name]));

/**
 * `blocked`: the source blocked the address (listmonk's blocklist): suppressed here, never mailed.
 * `pending`: only from Hearth's own export (a member who had not confirmed yet).
 */
export type ImportedStatus = 'active' | 'pending' | 'unsubscribed' | 'bounced' | 'complained' | 'blocked';

/** How a member had access at the source: paying (via Stripe), complimentary, or a gift. */
export type AccessKind = 'paid' | 'comp' | 'gift';

export interface ImportedMember {
  /** Trimmed, lower-cased. */
  email: string;
  name: string | null;
  /** What the source says about this address. */
  status: ImportedStatus;
  /** When they originally signed up at the source, if known and valid. */
  createdAt: Date | null;
  /** Tags/labels from the source: trimmed, deduplicated (ignoring case), at most 20 of 100 characters each. */
  labels: string[];
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  referrer: string | null;
  notes: string | null;
  /** The source plan this member is on (a key of the import's plan mapping), when paying, comped or gifted. */
  plan: string | null;
  access: AccessKind | null;
  /** When comp or gift access ends (null: it does not). */
  accessUntil: Date | null;
  stripeCustomerId: string | null;
  /** When the source's state (an unsubscribe, a bounce) happened, if it says. */
  stateAt: Date | null;
  /** Only from Hearth's own export. */
  confirmedAt: Date | null;
  newsletters: string[] | null;
  platform: string | null;
  ref: string | null;
  referralCode: string | null;
  /** ISO 639-1, one of the site's languages; null: the site's language. */
  language: string | null;
}

export type RowResult = { ok: true; member: ImportedMember } | { ok: false; reason: string; email: string | null };

export const MAX_LABELS = 20;
export const MAX_LABEL_LENGTH = 100;
/** Not from any source's rules: caps so one hostile cell cannot bloat a row. */
const MAX_NAME_LENGTH = 200;
const MAX_UTM_LENGTH = 200;
const MAX_REFERRER_LENGTH = 2000;
/** members.notes is free text for staff; a source's note longer than this is cut. */
const MAX_NOTES_LENGTH = 5000;
const MAX_PLAN_LENGTH = 100;
/** A signup date further ahead than this (clock skew, time zones) is not believed. */
const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Header keys and cell values

function withoutBom(header: string): string {
  return header.replace(/^\uFEFF/, '').trim();
}

/** Case-, space- and BOM-insensitive; `_` and `-` count as spaces. Used to map columns. */
function looseKey(header: unknown): string {
  return withoutBom(typeof header === 'string' ? header : '')
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}

/** Like looseKey but keeps `_` and `-`: the spelling a service uses is part of its signature. */
function strictKey(header: unknown): string {
  return withoutBom(typeof header === 'string' ? header : '')
    .toLowerCase()
    .replace(/\s+/g, ' ');
}

/** A status or boolean cell, for looking up in a vocabulary. */
function valueKey(raw: string): string {
  return raw
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}

// C0 controls and DEL: PostgreSQL text refuses NUL, and none of them belongs in a name or a label.
const CONTROL = /[\u0000-\u001F\u007F]/g;

/** Control characters become spaces, runs of spaces one space, then trimmed and cut to `max` code points. */
function cleanText(raw: string, max: number): string {
  return clip(isClean(raw) ? raw : raw.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim(), max);
}

/**
 * Whether cleanText would leave `raw` as it is: no control character, no white space but single
 * spaces between words. Most cells are (empty, a name, a tag): a loop over their code units is
 * 5–10 times faster than the two replacements and the trim, a million rows with a dozen such
 * cells each.
 */
function isClean(raw: string): boolean {
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c > 32 && c < 127) continue;
    if (c === 32) {
      if (i === 0 || i === n - 1 || raw.charCodeAt(i - 1) === 32) return false;
    } else if (c <= 32 || c === 127 || isUnicodeSpace(c)) return false;
  }
  return true;
}

/** The code units beyond ASCII that `\s` matches (and String.prototype.trim removes). */
function isUnicodeSpace(c: number): boolean {
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('').trimEnd();
}

function orNull(text: string): string | null {
  return text === '' ? null : text;
}

/**
 * A list cell (tags, labels): comma-separated, where a value may be double-quoted so that it can
 * hold a comma. Mailchimp writes `"tag one","tag two"`; Ghost and Kit write `one,two`.
 */
export function splitList(raw: string): string[] {
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charAt(i);
    if (quoted) {
      if (ch !== '"') current += ch;
      else if (raw.charAt(i + 1) === '"') {
        current += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      values.push(current);
      current = '';
    } else current += ch;
  }
  values.push(current);
  return values;
}

function labelsFrom(raw: string): string[] {
  const labels: string[] = [];
  const seen = new Set<string>();
  for (const value of splitList(raw)) {
    if (labels.length === MAX_LABELS) break;
    const label = cleanText(value, MAX_LABEL_LENGTH);
    const key = label.toLowerCase();
    if (label === '' || seen.has(key)) continue;
    seen.add(key);
    labels.push(label);
  }
  return labels;
}

// ISO 8601 and the services' own shapes: `2024-03-01T10:15:00.000Z` (Ghost, Substack),
// `2024-03-01 10:15:00` (Mailchimp, in UTC), `2023-03-24 10:23:10 UTC` (beehiiv), `2024-03-01`.
// listmonk writes Go's time format: `2024-01-15 10:00:00.123456 +0000 UTC` (offset, then the zone's name).
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?(?:\s+[A-Z]{2,5})?)?$/i;

/**
 * A signup date from a source, or null when it is missing, malformed, impossible (30 February),
 * before 1970, or more than a day in the future. A date without a zone is read as UTC. Day/month
 * orders such as `03/04/2024` are refused: they are ambiguous and no supported export writes them.
 */
export function parseSourceDate(raw: string, now: Date = new Date()): Date | null {
  if (raw === '') return null;
  const quick = quickSourceTime(raw);
  const time = quick === undefined ? patternSourceTime(raw) : quick;
  if (time === null || !Number.isFinite(time) || time > now.getTime() + FUTURE_TOLERANCE_MS) return null;
  return new Date(time);
}

/** A date in any shape DATE reads, as milliseconds since 1970 (null: none, or not a real date). */
function patternSourceTime(raw: string): number | null {
  const m = DATE.exec(raw.trim());
  if (!m) return null;
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const offset = offsetMinutes(m[8] ?? '');
  if (offset === null) return null;
  return utcTime(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), millis, offset);
}

/**
 * The shapes nearly every file has — `YYYY-MM-DD`, then ` HH:MM:SS` or `THH:MM:SS`, then nothing,
 * `Z` or `.sssZ` (Mailchimp, Ghost, Substack) — read code unit by code unit: a third of what the
 * regular expression costs, a million rows with one to four dates each. Undefined for any other
 * shape (patternSourceTime reads it); the same answer as patternSourceTime for these (tested).
 */
function quickSourceTime(raw: string): number | null | undefined {
  const n = raw.length;
  if ((n !== 10 && n !== 19 && n !== 20 && n !== 24) || raw.charCodeAt(4) !== 45 || raw.charCodeAt(7) !== 45) return undefined;
  const year = digitsAt(raw, 0, 4);
  const month = digitsAt(raw, 5, 2);
  const day = digitsAt(raw, 8, 2);
  if (year < 0 || month < 0 || day < 0) return undefined;
  if (n === 10) return utcTime(year, month, day, 0, 0, 0, 0, 0);
  const separator = raw.charCodeAt(10);
  if ((separator !== 32 && separator !== 84 && separator !== 116) || raw.charCodeAt(13) !== 58 || raw.charCodeAt(16) !== 58)
    return undefined;
  const hour = digitsAt(raw, 11, 2);
  const minute = digitsAt(raw, 14, 2);
  const second = digitsAt(raw, 17, 2);
  if (hour < 0 || minute < 0 || second < 0) return undefined;
  let millis = 0;
  if (n === 24) {
    if (raw.charCodeAt(19) !== 46) return undefined;
    millis = digitsAt(raw, 20, 3);
    if (millis < 0) return undefined;
  }
  // `Z` or `z` last (DATE reads zones case-insensitively).
  if (n !== 19 && (raw.charCodeAt(n - 1) | 32) !== 122) return undefined;
  return utcTime(year, month, day, hour, minute, second, millis, 0);
}

/** The ASCII digits of raw[at, at + count) as a number, or -1 when one is not a digit. */
function digitsAt(raw: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = raw.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Milliseconds since 1970 of a wall-clock time `offset` minutes ahead of UTC; null when the date or time is not a real one. */
function utcTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
  offset: number,
): number | null {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

function offsetMinutes(zone: string): number | null {
  if (zone === '' || /^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?(?:\s+[A-Z]{2,5})?$/i.exec(zone);
  if (!m) return null;
  const hours = Number(m[2]);
  const minutes = Number(m[3] ?? 0);
  if (hours > 14 || minutes > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function booleanFrom(raw: string): boolean | null {
  const key = valueKey(raw);
  if (['true', 't', 'yes', 'y', '1'].includes(key)) return true;
  if (['false', 'f', 'no', 'n', '0'].includes(key)) return false;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Formats

/** What one record says, as the format's rules read it. */
interface Row {
  /** The trimmed cell for a field, or '' when the field has no column or the record is short. */
  cell(field: Field): string;
  /** Whether the file has a column for this field at all. */
  has(field: Field): boolean;
  /** The normalised email address. */
  email: string;
}

/** A status for the address, or the reason the row is not imported. */
type Verdict = { status: ImportedStatus } | { reason: string };

/** `unconfirmed`: the person never confirmed at the source, so there is no consent to carry over. */
type StatusWord = ImportedStatus | 'unconfirmed';

interface FormatRules {
  /** For messages: "a Mailchimp export". */
  label: string;
  /** The email column as the service names it, for the missing-column error. */
  emailColumn: string;
  /** For each field, the header keys (looseKey form) that feed it, best first. */
  columns: { readonly [F in Field]?: readonly string[] };
  /** Whether a header row (strictKey form) is this service's export. Generic has none. */
  detect?: (keys: ReadonlySet<string>) => boolean;
  judge(row: Row): Verdict;
  /** Whether `confirmedAt` is when the member confirmed (Hearth), not a stand-in signup date (Mailchimp). */
  keepsConfirmedAt?: boolean;
  /** The member's paid, comp or gift access at the source, if any; formats without one have none. */
  access?: (row: Row, now: Date) => Access | null;
}

interface Access {
  plan: string;
  access: AccessKind;
  until: Date | null;
}

const ACCESS_WORDS: ReadonlyMap<string, AccessKind> = new Map([
  ['paid', 'paid'],
  ['stripe', 'paid'],
  ['founding', 'paid'],
  ['comp', 'comp'],
  ['comped', 'comp'],
  ['complimentary', 'comp'],
  ['gift', 'gift'],
]);

const DELETED = 'deleted in the source';

function vocabulary(entries: Partial<Record<StatusWord, readonly string[]>>): ReadonlyMap<string, StatusWord> {
  // A Map, not an object: a cell saying "constructor" must not find Object.prototype.
  const map = new Map<string, StatusWord>();
  for (const [word, values] of Object.entries(entries) as Array<[StatusWord, readonly string[]]>) {
    for (const value of values) map.set(valueKey(value), word);
  }
  return map;
}

function quoteCell(raw: string): string {
  return `"${cleanText(raw, 40)}"`;
}

/** Reads a status cell; `whenEmpty` says what an empty cell means (null: the row is refused). */
function statusFrom(raw: string, words: ReadonlyMap<string, StatusWord>, whenEmpty: ImportedStatus | null): Verdict {
  const key = valueKey(raw);
  if (key === '') return whenEmpty ? { status: whenEmpty } : { reason: 'the source gives no status for this address' };
  const word = words.get(key);
  if (word === undefined) return { reason: `the source's status ${quoteCell(raw)} is not one we know` };
  if (word === 'unconfirmed') return { reason: `never confirmed their subscription in the source (status ${quoteCell(raw)})` };
  return { status: word };
}

// -- generic ----------------------------------------------------------------------------------
// Any spreadsheet with an email column. A list without a status column, or a row with an empty
// status, is taken as subscribed: that is what a plain list of addresses means. A status cell
// must otherwise say clearly what it means; pending/unconfirmed rows and words we do not know are
// refused with a reason rather than guessed, so staff see them. `state` is not read as a status
// here: in address books it is the region.
const GENERIC_STATUSES = vocabulary({
  active: ['active', 'subscribed', 'confirmed', 'opted in', 'opt in', 'yes', 'true', '1', 'enabled', 'free', 'paid', 'comped'],
  unsubscribed: [
    'unsubscribed',
    'unsubscribe',
    'inactive',
    'cancelled',
    'canceled',
    'opted out',
    'opt out',
    'no',
    'false',
    '0',
    'disabled',
  ],
  bounced: ['bounced', 'bounce', 'hard bounce', 'hard bounced', 'cleaned', 'undeliverable', 'invalid'],
  complained: ['complained', 'complaint', 'spam', 'spam complaint', 'spam report', 'marked as spam', 'abuse'],
  blocked: ['blocked', 'blocklisted', 'blacklisted', 'suppressed'],
  unconfirmed: ['pending', 'unconfirmed', 'not confirmed', 'validating'],
});

const generic: FormatRules = {
  label: 'a generic CSV',
  emailColumn: 'email',
  columns: {
    email: ['email', 'e mail', 'email address', 'e mail address', 'emailaddress', 'mail'],
    name: ['name', 'full name', 'fullname'],
    firstName: ['first name', 'firstname', 'given name'],
    lastName: ['last name', 'lastname', 'surname', 'family name'],
    status: ['status', 'subscription status'],
    createdAt: ['created at', 'signup date', 'sign up date', 'subscribed at', 'date subscribed', 'created', 'joined at'],
    labels: ['labels', 'tags', 'label', 'tag'],
    utmSource: ['utm source'],
    utmMedium: ['utm medium'],
    utmCampaign: ['utm campaign'],
    referrer: ['referrer', 'referer', 'referring site'],
  },
  judge: (row) => statusFrom(row.cell('status'), GENERIC_STATUSES, 'active'),
};

// -- Mailchimp --------------------------------------------------------------------------------
// An audience export is a zip of three CSVs with the same columns plus one status-specific set:
// subscribed (none), unsubscribed (UNSUB_TIME, UNSUB_CAMPAIGN_TITLE, UNSUB_REASON, …) and
// cleaned (CLEAN_TIME, CLEAN_CAMPAIGN_TITLE, …: hard bounces). The file, not the row, carries the
// status, so the presence of the column decides. The signup date is OPTIN_TIME, else
// CONFIRM_TIME; both are `YYYY-MM-DD HH:MM:SS` in UTC. TAGS holds `"tag one","tag two"`.
const mailchimp: FormatRules = {
  label: 'a Mailchimp export',
  emailColumn: 'Email Address',
  columns: {
    email: ['email address', 'email'],
    firstName: ['first name'],
    lastName: ['last name'],
    createdAt: ['optin time'],
    confirmedAt: ['confirm time'],
    labels: ['tags'],
    unsubscribedAt: ['unsub time'],
    cleanedAt: ['clean time'],
    notes: ['notes'],
  },
  detect: (keys) =>
    keys.has('email address') &&
    ['member_rating', 'optin_time', 'confirm_time', 'leid', 'euid', 'unsub_time', 'clean_time'].some((k) => keys.has(k)),
  judge: (row) => {
    if (row.has('cleanedAt')) return { status: 'bounced' };
    if (row.has('unsubscribedAt')) return { status: 'unsubscribed' };
    return { status: 'active' };
  },
};

// -- Substack ---------------------------------------------------------------------------------
// The subscriber export: email, active_subscription (paid and current), expiry, plan,
// email_disabled, created_at, first_payment_at; there is no name. `email_disabled` true means the
// reader stopped emails: unsubscribed. A paid plan says nothing about email consent, so it is not
// read. Substack replaces the address of a reader who asked to be deleted with one at
// `deletion-request.substack.com`: that row is refused as deleted.
const substack: FormatRules = {
  label: 'a Substack export',
  emailColumn: 'email',
  columns: {
    email: ['email'],
    name: ['name'],
    createdAt: ['created at'],
    emailDisabled: ['email disabled'],
    plan: ['plan'],
    planType: ['type', 'subscription type'],
    activeSubscription: ['active subscription'],
    accessUntil: ['expiry'],
  },
  detect: (keys) => keys.has('email') && (keys.has('email_disabled') || keys.has('active_subscription')),
  // `type` (paid, comp, gift, founding) when the export has it, else the plan's own word; a paid
  // plan counts only while active_subscription is true. Comp and gift end at `expiry`.
  access: (row) => {
    const type = valueKey(row.cell('planType'));
    const plan = valueKey(row.cell('plan'));
    const kind = ACCESS_WORDS.get(type) ?? ACCESS_WORDS.get(plan) ?? (booleanFrom(row.cell('activeSubscription')) === true ? 'paid' : null);
    if (kind === null) return null;
    if (kind === 'paid' && booleanFrom(row.cell('activeSubscription')) === false) return null;
    const key = cleanText(type && plan && type !== plan ? `${type} ${plan}` : type || plan || kind, MAX_PLAN_LENGTH);
    return { plan: key, access: kind, until: kind === 'paid' ? null : parseSourceDate(row.cell('accessUntil'), new Date(8.64e15)) };
  },
  judge: (row) => {
    if (row.email.endsWith('@deletion-request.substack.com')) return { reason: DELETED };
    const raw = row.cell('emailDisabled');
    if (raw === '') return { status: 'active' };
    const disabled = booleanFrom(raw);
    if (disabled === null) return { reason: `the source's email_disabled value ${quoteCell(raw)} is neither true nor false` };
    return { status: disabled ? 'unsubscribed' : 'active' };
  },
};

// -- Ghost ------------------------------------------------------------------------------------
// The members export: id, email, name, note, subscribed_to_emails, complimentary_plan,
// stripe_customer_id, created_at, deleted_at, labels, tiers. `subscribed_to_emails` false means
// unsubscribed; empty means subscribed (Ghost's own importer reads it so). A set `deleted_at` is
// a deleted member: refused. Labels are comma-separated. Tiers and Stripe ids are not carried over
// are read as its access (see `access`).
const ghost: FormatRules = {
  label: 'a Ghost export',
  emailColumn: 'email',
  columns: {
    email: ['email'],
    name: ['name'],
    createdAt: ['created at'],
    labels: ['labels'],
    subscribedToEmails: ['subscribed to emails', 'subscribed'],
    deletedAt: ['deleted at'],
    notes: ['note'],
    plan: ['tiers', 'products'],
    complimentary: ['complimentary plan'],
    stripeCustomerId: ['stripe customer id'],
  },
  detect: (keys) => keys.has('email') && (keys.has('subscribed_to_emails') || keys.has('complimentary_plan')),
  // A comped member has complimentary_plan true; a paying one a Stripe customer. The plan is the
  // first of its tiers (Ghost writes their names comma-separated), else the kind itself.
  access: (row) => {
    const comp = booleanFrom(row.cell('complimentary')) === true;
    const paid = row.cell('stripeCustomerId') !== '';
    if (!comp && !paid) return null;
    const tier = cleanText(splitList(row.cell('plan'))[0] ?? '', MAX_PLAN_LENGTH);
    return { plan: tier || (comp ? 'comp' : 'paid'), access: comp ? 'comp' : 'paid', until: null };
  },
  judge: (row) => {
    if (row.cell('deletedAt') !== '') return { reason: DELETED };
    const raw = row.cell('subscribedToEmails');
    if (raw === '') return { status: 'active' };
    const subscribed = booleanFrom(raw);
    if (subscribed === null) return { reason: `the source's subscribed_to_emails value ${quoteCell(raw)} is neither true nor false` };
    return { status: subscribed ? 'active' : 'unsubscribed' };
  },
};

// -- beehiiv ----------------------------------------------------------------------------------
// The subscriber export: email, status, tier, created_at (`2023-03-24 10:23:10 UTC`), the UTM
// fields, utm_channel, referring_site, referral_code, stripe_customer_id, unsubscribed_at, and
// older files First Name / Last Name / Free Tier / Premium Tier. Statuses (beehiiv API): active;
// inactive (unsubscribed); validating and pending (never confirmed: refused); invalid (failed
// beehiiv's address check: kept as bounced, so it stays suppressed). needs_attention and anything
// else is refused as unknown. A set unsubscribed_at wins over the status column.
const BEEHIIV_STATUSES = vocabulary({
  active: ['active'],
  unsubscribed: ['inactive', 'unsubscribed'],
  bounced: ['invalid', 'bounced'],
  complained: ['complained', 'spam'],
  unconfirmed: ['validating', 'pending'],
});

const beehiiv: FormatRules = {
  label: 'a beehiiv export',
  emailColumn: 'email',
  columns: {
    email: ['email'],
    name: ['name'],
    firstName: ['first name'],
    lastName: ['last name'],
    status: ['status'],
    createdAt: ['created at'],
    labels: ['tags'],
    utmSource: ['utm source'],
    utmMedium: ['utm medium'],
    utmCampaign: ['utm campaign'],
    referrer: ['referring site'],
    unsubscribedAt: ['unsubscribed at'],
    plan: ['tier', 'subscription tier', 'premium tier'],
    stripeCustomerId: ['stripe customer id'],
    originalCreatedAt: ['subscription date (substack)'],
  },
  detect: (keys) =>
    keys.has('email') && ['referring_site', 'utm_channel', 'subscription_tier', 'free tier', 'premium tier'].some((k) => keys.has(k)),
  // beehiiv's tier is `free` or `premium` (older files: the premium tier's name in `Premium Tier`).
  access: (row) => {
    const tier = cleanText(row.cell('plan'), MAX_PLAN_LENGTH);
    if (tier === '' || valueKey(tier) === 'free') return null;
    return { plan: tier.toLowerCase(), access: 'paid', until: null };
  },
  judge: (row) => {
    if (row.cell('unsubscribedAt') !== '') return { status: 'unsubscribed' };
    if (!row.has('status')) return { status: 'active' };
    return statusFrom(row.cell('status'), BEEHIIV_STATUSES, null);
  },
};

// -- Kit (ConvertKit) -------------------------------------------------------------------------
// The subscriber export: first_name, email_address, state, created_at, tags (comma-separated),
// plus one column per custom field. Kit's states (API v4): active; cancelled (unsubscribed);
// bounced; complained; inactive (unconfirmed: refused). The dashboard's words (Confirmed,
// Unconfirmed) and plain subscribed/unsubscribed are read too. Detection needs Kit's snake_case
// `email_address` with a state or status column, or `email` + `first_name` + `state`, so an
// address book with "Email Address" and a "State" (region) column stays generic.
const KIT_STATUSES = vocabulary({
  active: ['active', 'confirmed', 'subscribed'],
  unsubscribed: ['cancelled', 'canceled', 'unsubscribed'],
  bounced: ['bounced'],
  complained: ['complained'],
  unconfirmed: ['inactive', 'unconfirmed'],
});

const kit: FormatRules = {
  label: 'a Kit export',
  emailColumn: 'email_address',
  columns: {
    email: ['email address', 'email'],
    name: ['name'],
    firstName: ['first name'],
    lastName: ['last name'],
    status: ['state', 'status'],
    createdAt: ['created at'],
    labels: ['tags'],
  },
  detect: (keys) =>
    (keys.has('email_address') && (keys.has('state') || keys.has('status'))) ||
    (keys.has('email') && keys.has('first_name') && keys.has('state')),
  judge: (row) => (row.has('status') ? statusFrom(row.cell('status'), KIT_STATUSES, null) : { status: 'active' }),
};

// -- listmonk ---------------------------------------------------------------------------------
// The subscribers export (Subscribers → Export): uuid, email, name, attributes, status,
// created_at, updated_at. Statuses: enabled, disabled (not mailed: unsubscribed), blocklisted
// (blocked: suppressed here). Dates are Go's `2024-01-15 10:00:00.123456 +0000 UTC`.
const LISTMONK_STATUSES = vocabulary({
  active: ['enabled'],
  unsubscribed: ['disabled'],
  bounced: [],
  complained: [],
  blocked: ['blocklisted', 'blacklisted'],
  pending: [],
  unconfirmed: [],
});

const listmonk: FormatRules = {
  label: 'a listmonk export',
  emailColumn: 'email',
  columns: {
    email: ['email'],
    name: ['name'],
    status: ['status'],
    createdAt: ['created at'],
    stateAt: ['updated at'],
  },
  detect: (keys) => keys.has('email') && keys.has('uuid') && keys.has('attributes'),
  judge: (row) => statusFrom(row.cell('status'), LISTMONK_STATUSES, 'active'),
};

// -- Hearth -----------------------------------------------------------------------------------
// Hearth's own export (`export members`, the admin's CSV): a move between two Hearth sites, or a
// backup restored. Everything it writes is read back: status (pending stays pending; active
// keeps its confirmed_at, consent having been recorded by the Hearth that exported it), tier and
// access, newsletters, labels, notes, source, referral code.
const HEARTH_STATUSES = vocabulary({
  active: ['active'],
  pending: ['pending'],
  unsubscribed: ['unsubscribed'],
  bounced: ['bounced'],
  complained: ['complained'],
  blocked: [],
  unconfirmed: [],
});

const hearth: FormatRules = {
  label: 'a Hearth export',
  emailColumn: 'email',
  columns: {
    email: ['email'],
    name: ['name'],
    status: ['status'],
    plan: ['tier'],
    access: ['access'],
    accessUntil: ['access until'],
    stripeCustomerId: ['stripe customer id'],
    newsletters: ['newsletters'],
    labels: ['labels'],
    notes: ['notes'],
    platform: ['platform'],
    utmSource: ['utm source'],
    utmMedium: ['utm medium'],
    utmCampaign: ['utm campaign'],
    referrer: ['referrer'],
    ref: ['ref'],
    referralCode: ['referral code'],
    createdAt: ['created at'],
    confirmedAt: ['confirmed at'],
    unsubscribedAt: ['unsubscribed at'],
  },
  detect: (keys) => keys.has('email') && keys.has('referral_code') && keys.has('newsletters') && keys.has('platform'),
  judge: (row) => statusFrom(row.cell('status'), HEARTH_STATUSES, null),
  keepsConfirmedAt: true,
  access: (row) => {
    const plan = cleanText(row.cell('plan'), MAX_PLAN_LENGTH);
    const kind = ACCESS_WORDS.get(valueKey(row.cell('access')));
    if (plan === '' || plan === 'free' || kind === undefined) return null;
    return { plan, access: kind, until: parseSourceDate(row.cell('accessUntil'), new Date(8.64e15)) };
  },
};

/** Columns every format reads when it has them (no service's export names them otherwise). */
const SHARED_COLUMNS: { readonly [F in Field]?: readonly string[] } = {
  language: ['language', 'locale', 'lang', 'preferred language'],
};

const RULES: Readonly<Record<ImportFormat, FormatRules>> = { generic, mailchimp, substack, ghost, beehiiv, kit, listmonk, hearth };

/** Most specific first: Mailchimp's and Kit's email headers read alike, and generic takes anything. */
const DETECTION_ORDER: readonly ImportFormat[] = ['hearth', 'mailchimp', 'ghost', 'substack', 'beehiiv', 'listmonk', 'kit'];

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Detects the service a CSV came from by its header row; 'generic' when nothing specific matches;
 * null when no email column can be found at all.
 */
export function detectFormat(headers: string[]): ImportFormat | null {
  if (findColumn(headers.map(looseKey), generic.columns.email ?? []) === undefined) return null;
  const keys = new Set(headers.map(strictKey));
  return DETECTION_ORDER.find((format) => RULES[format].detect?.(keys)) ?? 'generic';
}

/** A manual mapping from staff: column header → field name (FIELD_NAMES) or `ignore`. */
export type ColumnOverrides = Readonly<Record<string, string>>;

/**
 * Which column feeds which field, for a given format (shown to staff before an import), with
 * staff's manual choices on top: a header in any language can feed any field, and a column the
 * format would read can be ignored. Throws a ValidationError, worded for staff, when an override
 * names a column or field that does not exist, or when no column feeds the email.
 */
export function mapColumns(format: ImportFormat, headers: string[], overrides: ColumnOverrides = {}): ColumnMapping {
  const rules = RULES[format];
  const keys = headers.map(looseKey);
  const chosen = new Map<Field, number>();
  const ignored = new Set<number>();
  for (const [header, fieldName] of Object.entries(overrides)) {
    const index = findHeader(headers, header);
    if (index === undefined) {
      throw new ValidationError(`The mapping names a column "${clip(header, 60)}" that is not in this file.`, 'import_unknown_column');
    }
    const name = fieldName.trim().toLowerCase();
    if (name === 'ignore' || name === '') {
      ignored.add(index);
      continue;
    }
    const field = Object.hasOwn(FIELD_NAMES, name) ? FIELD_NAMES[name] : undefined;
    if (field === undefined) {
      throw new ValidationError(
        `The mapping names a field "${clip(fieldName, 40)}" Hearth does not have; the fields are ${Object.keys(FIELD_NAMES).join(', ')} (or ignore).`,
        'import_unknown_field',
      );
    }
    if (chosen.has(field)) throw new ValidationError(`The mapping feeds ${name} from two columns; choose one.`, 'import_mapping_conflict');
    chosen.set(field, index);
  }
  const taken = new Set([...chosen.values(), ...ignored]);
  const pick = (field: Field): number | undefined => {
    if (chosen.has(field)) return chosen.get(field);
    const index = findColumn(keys, rules.columns[field] ?? SHARED_COLUMNS[field] ?? []);
    return index === undefined || taken.has(index) ? undefined : index;
  };
  const email = pick('email');
  if (email === undefined) {
    const found = headers
      .slice(0, 20)
      .map((h) => `"${clip(withoutBom(String(h)), 40)}"`)
      .join(', ');
    throw new ValidationError(
      `This file has no email column: ${rules.label} names it "${rules.emailColumn}"; map the right column to email. ` +
        (found === '' ? 'The file has no header row.' : `The columns found are ${found}${headers.length > 20 ? ', …' : ''}.`),
      'import_no_email_column',
    );
  }
  const mapping: ColumnMapping = { email };
  for (const field of FIELDS) {
    if (field === 'email') continue;
    const index = pick(field);
    if (index !== undefined) mapping[field] = index;
  }
  return mapping;
}

/** A column by its header as staff typed it: exactly, else ignoring case, spaces and BOM. */
function findHeader(headers: readonly string[], header: string): number | undefined {
  const exact = headers.findIndex((h) => withoutBom(String(h)) === header.trim());
  if (exact >= 0) return exact;
  const loose = headers.map(looseKey).indexOf(looseKey(header));
  return loose >= 0 ? loose : undefined;
}

/** The headers no field is read from: shown to staff before the import, so nothing is lost unseen. */
export function unmappedColumns(mapping: ColumnMapping, headers: string[]): string[] {
  const used = new Set(Object.values(mapping));
  return headers.map((h, i) => (used.has(i) ? null : withoutBom(String(h)) || `column ${i + 1}`)).filter((h): h is string => h !== null);
}

/** Parses `col=field` pairs (CLI `--map`, form lines) into overrides; the last `=` splits, so a header may hold one. */
export function parseMapPairs(pairs: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new ValidationError(`"${clip(pair, 60)}" is not column=field.`, 'import_bad_mapping');
    overrides[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return overrides;
}

function findColumn(keys: readonly string[], candidates: readonly string[]): number | undefined {
  for (const candidate of candidates) {
    const index = keys.indexOf(candidate);
    if (index >= 0) return index;
  }
  return undefined;
}

/** Describes a mapping for display: [{field: 'email', column: 'Email Address'}, …], in a fixed field order. */
export function describeMapping(mapping: ColumnMapping, headers: string[]): Array<{ field: string; column: string }> {
  const described: Array<{ field: string; column: string }> = [];
  for (const field of FIELDS) {
    const index = mapping[field];
    if (index === undefined) continue;
    const header = headers[index];
    described.push({
      field: FIELD_LABELS.get(field) ?? field,
      column: typeof header === 'string' ? withoutBom(header) : `column ${index + 1}`,
    });
  }
  return described;
}

export interface MapRowOptions {
  /** The present, for refusing future signup dates (tests pass a fixed one). */
  now?: Date;
  /**
   * The site's languages (lib/i18n.ts: code and own name), for the language column. Without
   * them, any two-letter code is taken.
   */
  languages?: ReadonlyArray<{ code: string; name: string }>;
}

/**
 * Maps one record (cell strings in header order) to a member, or a rejection with a reason staff
 * can read ('no email address', 'the domain after the @ is not valid', 'deleted in the source').
 * Never throws on any input.
 */
export function mapRow(format: ImportFormat, mapping: ColumnMapping, record: string[], options: MapRowOptions = {}): RowResult {
  try {
    return mapRecord(RULES[format], mapping, record, options.now ?? new Date(), options.languages);
  } catch {
    // Unreachable for well-typed input; a streaming import of a million rows must not die on one
    // row from a caller that passed something else (an unknown format, a non-array record).
    return { ok: false, reason: 'the row could not be read', email: null };
  }
}

function mapRecord(
  rules: FormatRules,
  mapping: ColumnMapping,
  record: string[],
  now: Date,
  languages: ReadonlyArray<{ code: string; name: string }> | undefined,
): RowResult {
  const cell = (field: Field): string => {
    const index = mapping[field];
    const value = index === undefined ? undefined : record[index];
    if (typeof value !== 'string') return '';
    const trimmed = value.trim();
    return rules.keepsConfirmedAt ? undoDefusing(trimmed) : trimmed;
  };

  const raw = cell('email');
  if (raw === '') return { ok: false, reason: 'no email address', email: null };
  const problem = emailProblem(raw);
  if (problem !== null) return { ok: false, reason: problem, email: clip(raw, 320) };
  const email = normaliseEmail(raw);

  const verdict = rules.judge({ cell, has: (field) => mapping[field] !== undefined, email });
  if ('reason' in verdict) return { ok: false, reason: verdict.reason, email };

  const language = languageFrom(cell('language'), languages);
  if (typeof language === 'object' && language !== null) return { ok: false, reason: language.reason, email };

  const row: Row = { cell, has: (field) => mapping[field] !== undefined, email };
  const access = rules.access?.(row, now) ?? null;
  const confirmedAt = rules.keepsConfirmedAt ? parseSourceDate(cell('confirmedAt'), now) : null;
  return {
    ok: true,
    member: {
      email,
      name: nameFrom(cell),
      status: verdict.status,
      createdAt:
        parseSourceDate(cell('originalCreatedAt'), now) ??
        parseSourceDate(cell('createdAt'), now) ??
        (rules.keepsConfirmedAt ? null : parseSourceDate(cell('confirmedAt'), now)),
      labels: labelsFrom(cell('labels')),
      utmSource: orNull(cleanText(cell('utmSource'), MAX_UTM_LENGTH)),
      utmMedium: orNull(cleanText(cell('utmMedium'), MAX_UTM_LENGTH)),
      utmCampaign: orNull(cleanText(cell('utmCampaign'), MAX_UTM_LENGTH)),
      referrer: orNull(cleanText(cell('referrer'), MAX_REFERRER_LENGTH)),
      notes: orNull(notesText(cell('notes'))),
      plan: access?.plan ?? null,
      access: access?.access ?? null,
      accessUntil: access?.until ?? null,
      stripeCustomerId: stripeCustomerFrom(cell('stripeCustomerId')),
      stateAt:
        verdict.status === 'active' || verdict.status === 'pending'
          ? null
          : (parseSourceDate(cell('unsubscribedAt'), now) ??
            parseSourceDate(cell('cleanedAt'), now) ??
            parseSourceDate(cell('stateAt'), now)),
      confirmedAt: verdict.status === 'active' ? confirmedAt : null,
      newsletters: row.has('newsletters') ? newslettersFrom(cell('newsletters')) : null,
      platform: orNull(cleanText(cell('platform'), 40).toLowerCase()),
      ref: orNull(cleanText(cell('ref'), 64)),
      referralCode: /^[A-Za-z0-9_-]{4,64}$/.test(cell('referralCode')) ? cell('referralCode') : null,
      language,
    },
  };
}

/** Hearth's export defuses spreadsheet formulas with a leading apostrophe ('=…): undone on reading it back. */
export function undoDefusing(cell: string): string {
  return /^'[=+\-@']/.test(cell) ? cell.slice(1) : cell;
}

const languageNames = new Map<string, Map<string, string>>();

/**
 * A language cell: a code (`fr`), a locale (`fr-FR`, `fr_CA`, `FR`) or the language's name in
 * English or in itself (`French`, `Français`), among the site's languages. Empty: null (the
 * site's language). Anything else is the row's rejection, with the languages there are.
 */
export function languageFrom(raw: string, languages?: ReadonlyArray<{ code: string; name: string }>): string | null | { reason: string } {
  const text = raw.trim();
  if (text === '') return null;
  const primary = /^([A-Za-z]{2})(?:[-_][A-Za-z0-9]{1,8})*$/.exec(text)?.[1]?.toLowerCase();
  if (languages === undefined) {
    if (primary !== undefined) return primary;
  } else {
    if (primary !== undefined && languages.some((l) => l.code === primary)) return primary;
    const key = [...languages.map((l) => l.code)].join(',');
    let names = languageNames.get(key);
    if (names === undefined) {
      names = new Map();
      for (const l of languages) {
        names.set(l.name.toLowerCase(), l.code);
        for (const locale of ['en', l.code]) {
          try {
            const name = new Intl.DisplayNames([locale], { type: 'language' }).of(l.code);
            if (name) names.set(name.toLowerCase(), l.code);
          } catch {
            // An install without that locale's data: its own name (meta.json) still counts.
          }
        }
      }
      languageNames.set(key, names);
    }
    const byName = names.get(text.toLowerCase());
    if (byName !== undefined) return byName;
  }
  const known = languages === undefined ? 'a two-letter code such as en or fr' : languages.map((l) => l.code).join(', ');
  return { reason: `the language ${quoteCell(raw)} is not one of this site's languages (${known})` };
}

/** Notes keep their line breaks; other control characters go; cut to 5,000 code points. */
function notesText(raw: string): string {
  return clip(
    raw
      .replace(/\r\n?/g, '\n')
      .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, ' ')
      .trim(),
    MAX_NOTES_LENGTH,
  );
}

/** A Stripe customer id (`cus_…`), or null for anything else. */
function stripeCustomerFrom(raw: string): string | null {
  return /^cus_[A-Za-z0-9]{1,250}$/.test(raw) ? raw : null;
}

/** Hearth's newsletters cell: slugs separated by spaces (or commas). */
function newslettersFrom(raw: string): string[] {
  return [
    ...new Set(
      raw
        .toLowerCase()
        .split(/[\s,]+/)
        .filter((slug) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)),
    ),
  ];
}

/** The full name when the source has one, else first and last name joined. */
function nameFrom(cell: (field: Field) => string): string | null {
  const full = cleanText(cell('name'), MAX_NAME_LENGTH);
  if (full !== '') return full;
  const parts = [cell('firstName'), cell('lastName')].map((part) => cleanText(part, MAX_NAME_LENGTH)).filter((part) => part !== '');
  return orNull(clip(parts.join(' '), MAX_NAME_LENGTH));
}
