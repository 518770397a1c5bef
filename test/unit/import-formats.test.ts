import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.ts';
import {
  IMPORT_FORMATS,
  describeMapping,
  detectFormat,
  mapColumns,
  mapRow,
  parseMapPairs,
  parseSourceDate,
  splitList,
  unmappedColumns,
  type ImportFormat,
  type ImportedMember,
  type RowResult,
} from '../../src/domain/imports/formats.ts';

const NOW = new Date('2025-06-01T12:00:00Z');

/** Parses a fixture as the import pipeline would: no BOM stripping, no trimming, ragged rows allowed. */
function fixture(name: string): { headers: string[]; records: string[][] } {
  const rows = parse(readFileSync(new URL(`../fixtures/imports/${name}`, import.meta.url)), { relax_column_count: true });
  const [headers, ...records] = rows;
  if (!headers) throw new Error(`${name} is empty`);
  return { headers, records };
}

/** Detects the fixture's format, maps its columns and every record. */
function importFixture(name: string): { format: ImportFormat | null; results: RowResult[] } {
  const { headers, records } = fixture(name);
  const format = detectFormat(headers);
  if (format === null) return { format, results: [] };
  const mapping = mapColumns(format, headers);
  return { format, results: records.map((record) => mapRow(format, mapping, record, { now: NOW })) };
}

function member(fields: Partial<ImportedMember> & Pick<ImportedMember, 'email'>): RowResult {
  return {
    ok: true,
    member: {
      name: null,
      status: 'active',
      createdAt: null,
      labels: [],
      utmSource: null,
      utmMedium: null,
      utmCampaign: null,
      referrer: null,
      notes: null,
      plan: null,
      access: null,
      accessUntil: null,
      stripeCustomerId: null,
      stateAt: null,
      confirmedAt: null,
      newsletters: null,
      platform: null,
      ref: null,
      referralCode: null,
      language: null,
      ...fields,
    },
  };
}

function rejected(reason: string, email: string | null): RowResult {
  return { ok: false, reason, email };
}

describe('detectFormat', () => {
  it.each([
    ['generic.csv', 'generic'],
    ['generic-bom.csv', 'generic'],
    ['mailchimp-subscribed.csv', 'mailchimp'],
    ['mailchimp-unsubscribed.csv', 'mailchimp'],
    ['mailchimp-cleaned.csv', 'mailchimp'],
    ['substack.csv', 'substack'],
    ['ghost.csv', 'ghost'],
    ['beehiiv.csv', 'beehiiv'],
    ['kit.csv', 'kit'],
  ])('detects %s as %s', (name, expected) => {
    expect(detectFormat(fixture(name).headers)).toBe(expected);
  });

  it('reads headers regardless of case, surrounding spaces and a BOM', () => {
    expect(detectFormat(['\uFEFF  EMAIL ADDRESS ', ' optin_time'])).toBe('mailchimp');
    expect(detectFormat(['\uFEFFEmail', 'SUBSCRIBED_TO_EMAILS'])).toBe('ghost');
    expect(detectFormat(['\uFEFFemail_address', ' State '])).toBe('kit');
  });

  it('keeps an address book with a region "State" column generic, not Kit', () => {
    expect(detectFormat(['Email Address', 'First Name', 'Last Name', 'City', 'State'])).toBe('generic');
    expect(detectFormat(['Email', 'First Name', 'State'])).toBe('generic');
  });

  it('does not take a plain list with UTM columns for beehiiv, nor a Stripe id for Ghost', () => {
    expect(detectFormat(['email', 'utm_source', 'utm_medium', 'utm_campaign'])).toBe('generic');
    expect(detectFormat(['email', 'stripe_customer_id', 'created_at'])).toBe('generic');
  });

  it('accepts the generic spellings of the email column', () => {
    for (const header of ['email', 'E-mail', 'Email Address', 'email_address', 'MAIL']) {
      expect(detectFormat(['name', header])).toBe('generic');
    }
  });

  it('answers null when there is no email column at all', () => {
    expect(detectFormat(['name', 'phone', 'emails sent'])).toBeNull();
    expect(detectFormat([])).toBeNull();
  });
});

describe('mapColumns and describeMapping', () => {
  it('maps and describes a Mailchimp export', () => {
    const { headers } = fixture('mailchimp-unsubscribed.csv');
    expect(describeMapping(mapColumns('mailchimp', headers), headers)).toEqual([
      { field: 'email', column: 'Email Address' },
      { field: 'first_name', column: 'First Name' },
      { field: 'last_name', column: 'Last Name' },
      { field: 'created_at', column: 'OPTIN_TIME' },
      { field: 'confirmed_at', column: 'CONFIRM_TIME' },
      { field: 'labels', column: 'TAGS' },
      { field: 'unsubscribed_at', column: 'UNSUB_TIME' },
      { field: 'notes', column: 'NOTES' },
    ]);
  });

  it('maps a BOM-prefixed, upper-case, space-padded header row', () => {
    const { headers } = fixture('generic-bom.csv');
    expect(headers[0]).toBe('\uFEFF  EMAIL ADDRESS ');
    expect(mapColumns('generic', headers)).toEqual({ email: 0, firstName: 1, lastName: 2 });
    expect(describeMapping(mapColumns('generic', headers), headers)).toEqual([
      { field: 'email', column: 'EMAIL ADDRESS' },
      { field: 'first_name', column: 'First Name' },
      { field: 'last_name', column: 'LAST NAME' },
    ]);
  });

  it('maps every beehiiv source column', () => {
    const { headers } = fixture('beehiiv.csv');
    expect(describeMapping(mapColumns('beehiiv', headers), headers)).toEqual([
      { field: 'email', column: 'email' },
      { field: 'first_name', column: 'First Name' },
      { field: 'last_name', column: 'Last Name' },
      { field: 'status', column: 'status' },
      { field: 'created_at', column: 'created_at' },
      { field: 'utm_source', column: 'utm_source' },
      { field: 'utm_medium', column: 'utm_medium' },
      { field: 'utm_campaign', column: 'utm_campaign' },
      { field: 'referrer', column: 'referring_site' },
      { field: 'unsubscribed_at', column: 'unsubscribed_at' },
      { field: 'plan', column: 'tier' },
      { field: 'stripe_customer_id', column: 'stripe_customer_id' },
    ]);
  });

  it('throws a ValidationError naming the expected column when the email column is missing', () => {
    const headers = ['id', 'name', 'note'];
    expect(() => mapColumns('ghost', headers)).toThrow(ValidationError);
    expect(() => mapColumns('ghost', headers)).toThrow(
      'This file has no email column: a Ghost export names it "email"; map the right column to email. The columns found are "id", "name", "note".',
    );
    expect(() => mapColumns('mailchimp', ['First Name'])).toThrow(/a Mailchimp export names it "Email Address"/);
    expect(() => mapColumns('kit', [])).toThrow(
      'This file has no email column: a Kit export names it "email_address"; map the right column to email. The file has no header row.',
    );
  });

  it("does not let one service accept another service's email header", () => {
    expect(() => mapColumns('substack', ['Email Address', 'First Name'])).toThrow(ValidationError);
  });
});

describe('mapRow: generic', () => {
  it('maps every fixture row', () => {
    const { results } = importFixture('generic.csv');
    expect(results).toEqual([
      member({
        email: 'ada@example.com',
        name: 'Ada Lovelace',
        createdAt: new Date('2024-03-01T10:15:00Z'),
        labels: ['vip', 'early adopter'],
        utmSource: 'instagram',
        utmMedium: 'social',
        utmCampaign: 'spring-launch',
        referrer: 'https://www.instagram.com/',
      }),
      member({ email: 'bob@example.org', status: 'unsubscribed' }), // 30 February: no date
      rejected('the email address needs exactly one @', 'not-an-email'),
      rejected('the domain after the @ is not valid', 'dee@example'),
      rejected('no email address', null),
      rejected('never confirmed their subscription in the source (status "pending")', 'eve@example.com'),
      member({ email: 'fay@example.com', name: 'Fay', status: 'bounced', createdAt: new Date('2023-12-31T23:59:59Z') }),
      member({ email: 'gus@example.com', name: 'Gus', status: 'complained', labels: ['newsletter'] }), // year 2999: no date
      rejected('the source\'s status "lapsed" is not one we know', 'hal@example.com'),
    ]);
  });

  it('maps the BOM fixture, joining first and last names', () => {
    expect(importFixture('generic-bom.csv').results).toEqual([
      member({ email: 'zoe@example.com', name: 'Zoë Quinn' }),
      member({ email: 'yan@example.com', name: 'Yan' }),
    ]);
  });

  it('treats a list without a status column as subscribed and tolerates short records', () => {
    const mapping = mapColumns('generic', ['email', 'name', 'tags']);
    expect(mapRow('generic', mapping, ['a@example.com'])).toEqual(member({ email: 'a@example.com' }));
    expect(mapRow('generic', mapping, [])).toEqual(rejected('no email address', null));
  });
});

describe('mapRow: Mailchimp', () => {
  it('maps the subscribed export, with quoted tags and CONFIRM_TIME when OPTIN_TIME is empty', () => {
    expect(importFixture('mailchimp-subscribed.csv').results).toEqual([
      member({
        email: 'ann@example.com',
        name: 'Ann Smith',
        createdAt: new Date('2024-03-01T10:15:00Z'),
        labels: ['Early readers', 'Podcast, guests'],
      }),
      member({ email: 'ben@example.com', createdAt: new Date('2023-11-05T07:00:00Z') }),
      rejected('the email address needs exactly one @', 'cat@@example.com'),
    ]);
  });

  it('maps the unsubscribed export as unsubscribed', () => {
    expect(importFixture('mailchimp-unsubscribed.csv').results).toEqual([
      member({
        email: 'dan@example.com',
        name: 'Dan',
        status: 'unsubscribed',
        createdAt: new Date('2018-02-12T10:54:27Z'),
        labels: ['Lorem Editors'],
        stateAt: new Date('2023-06-06T12:56:15Z'),
      }),
      member({
        email: 'dora@example.com',
        name: 'Dora Ek',
        status: 'unsubscribed',
        createdAt: new Date('2020-12-25T13:35:34Z'),
        stateAt: new Date('2022-12-05T21:01:47Z'),
      }),
    ]);
  });

  it('maps the cleaned export as bounced', () => {
    expect(importFixture('mailchimp-cleaned.csv').results).toEqual([
      member({
        email: 'eli@example.com',
        name: 'Eli',
        status: 'bounced',
        createdAt: new Date('2018-02-05T19:28:23Z'),
        labels: ['Editors'],
        stateAt: new Date('2020-03-23T17:30:05Z'),
      }),
    ]);
  });
});

describe('mapRow: Substack', () => {
  it('maps every fixture row', () => {
    expect(importFixture('substack.csv').results).toEqual([
      member({ email: 'reader@example.com', createdAt: new Date('2023-08-27T15:06:27.713Z'), plan: 'yearly', access: 'paid' }),
      member({ email: 'free.reader@example.com', createdAt: new Date('2024-01-05T23:26:30.536Z') }),
      member({ email: 'quiet@example.com', status: 'unsubscribed', createdAt: new Date('2022-12-19T08:03:04.977Z') }),
      rejected('deleted in the source', 'x7f3k2@deletion-request.substack.com'),
      // SMTPUTF8: a local part in another script is an address (found in real Substack exports).
      member({ email: 'ömil@gmail.com', createdAt: new Date('2020-07-07T21:23:16.083Z') }),
    ]);
  });

  it('refuses an email_disabled value that is neither true nor false', () => {
    const headers = ['email', 'email_disabled'];
    expect(mapRow('substack', mapColumns('substack', headers), ['a@example.com', 'maybe'])).toEqual(
      rejected('the source\'s email_disabled value "maybe" is neither true nor false', 'a@example.com'),
    );
  });
});

describe('mapRow: Ghost', () => {
  it('maps every fixture row and refuses deleted members', () => {
    expect(importFixture('ghost.csv').results).toEqual([
      member({
        email: 'jamie@example.com',
        name: 'Jamie Larson',
        createdAt: new Date('2022-03-16T08:03:11.000Z'),
        labels: ['VIP', 'Early adopter'],
        notes: 'Met at the meetup, 2022',
      }),
      member({ email: 'pat@example.com', name: 'Pat', status: 'unsubscribed', createdAt: new Date('2022-04-06T07:42:08.000Z') }),
      member({
        email: 'comp@example.com',
        name: 'Comped Reader',
        createdAt: new Date('2023-01-10T12:00:00.000Z'),
        labels: ['Podcast'],
        plan: 'Gold',
        access: 'comp',
      }),
      member({
        email: 'paid@example.com',
        createdAt: new Date('2023-02-11T09:30:00.000Z'),
        labels: ['Import', 'Early adopter'],
        plan: 'Gold',
        access: 'paid',
        stripeCustomerId: 'cus_MbC1234567',
      }),
      rejected('deleted in the source', 'gone@example.com'),
    ]);
  });
});

describe('mapRow: beehiiv', () => {
  it('maps every fixture row', () => {
    expect(importFixture('beehiiv.csv').results).toEqual([
      member({
        email: 'lorem@example.com',
        name: 'Lorem Ipsum',
        createdAt: new Date('2023-03-24T10:23:10Z'),
        utmSource: 'tiktok',
        utmMedium: 'social',
        utmCampaign: 'spring_push',
        referrer: 'https://www.tiktok.com/@hearth',
      }),
      member({ email: 'dolor@example.com', status: 'unsubscribed', createdAt: new Date('2023-03-24T10:36:48Z') }),
      rejected('never confirmed their subscription in the source (status "pending")', 'amett@example.com'),
      member({ email: 'bad@exampel.com', status: 'bounced', createdAt: new Date('2023-04-12T09:00:00Z') }),
      member({
        email: 'unsublit@example.com',
        status: 'unsubscribed',
        createdAt: new Date('2023-04-11T14:02:46Z'),
        stateAt: new Date('2024-03-13T11:33:53Z'),
        plan: 'premium',
        access: 'paid',
        stripeCustomerId: 'cus_1234',
      }),
      rejected('the source\'s status "needs_attention" is not one we know', 'odd@example.com'),
    ]);
  });
});

describe('mapRow: Kit', () => {
  it('maps every fixture row', () => {
    expect(importFixture('kit.csv').results).toEqual([
      member({
        email: 'maja@example.com',
        name: 'Maja',
        createdAt: new Date('2024-01-15T10:30:00Z'),
        labels: ['Customer', 'Podcast listener'],
      }),
      member({ email: 'nils@example.com', name: 'Nils', status: 'unsubscribed', createdAt: new Date('2023-06-01T08:00:00Z') }),
      member({ email: 'bounce@example.com', status: 'bounced', createdAt: new Date('2022-02-02T02:02:02Z') }),
      member({
        email: 'spam@example.com',
        name: 'Olle',
        status: 'complained',
        createdAt: new Date('2022-03-03T03:03:03Z'),
        labels: ['Lead magnet'],
      }),
      rejected('never confirmed their subscription in the source (status "inactive")', 'pia@example.com'),
    ]);
  });

  it('refuses a row whose state is empty', () => {
    const headers = ['email_address', 'state'];
    expect(mapRow('kit', mapColumns('kit', headers), ['a@example.com', ' '])).toEqual(
      rejected('the source gives no status for this address', 'a@example.com'),
    );
  });
});

describe('labels', () => {
  const mapping = mapColumns('generic', ['email', 'tags']);
  const labelsOf = (cell: string): string[] => {
    const result = mapRow('generic', mapping, ['a@example.com', cell]);
    return result.ok ? result.member.labels : [];
  };

  it('keeps at most 20, each cut to 100 characters, deduplicated ignoring case', () => {
    const many = Array.from({ length: 30 }, (_, i) => `tag${i}`).join(',');
    expect(labelsOf(many)).toEqual(Array.from({ length: 20 }, (_, i) => `tag${i}`));
    expect(labelsOf(`${'x'.repeat(150)},${'x'.repeat(100)}y`)).toEqual(['x'.repeat(100)]);
    expect(labelsOf(' a , A ,, b\u0000c ,"d, e"')).toEqual(['a', 'b c', 'd, e']);
  });

  it('splits quoted and unquoted lists', () => {
    expect(splitList('"tag1","tag2"')).toEqual(['tag1', 'tag2']);
    expect(splitList('"say ""hi""",plain')).toEqual(['say "hi"', 'plain']);
    expect(splitList('')).toEqual(['']);
  });
});

describe('parseSourceDate', () => {
  it("reads ISO 8601 and the services' own shapes, in UTC unless a zone is given", () => {
    expect(parseSourceDate('2024-03-01 10:15:00', NOW)).toEqual(new Date('2024-03-01T10:15:00Z'));
    expect(parseSourceDate('2023-03-24 10:23:10 UTC', NOW)).toEqual(new Date('2023-03-24T10:23:10Z'));
    expect(parseSourceDate('2022-03-16T08:03:11.000Z', NOW)).toEqual(new Date('2022-03-16T08:03:11Z'));
    expect(parseSourceDate('2024-03-01T10:15:00+02:00', NOW)).toEqual(new Date('2024-03-01T08:15:00Z'));
    expect(parseSourceDate('2024-03-01T10:15:00-0530', NOW)).toEqual(new Date('2024-03-01T15:45:00Z'));
    expect(parseSourceDate('2024-02-29', NOW)).toEqual(new Date('2024-02-29T00:00:00Z'));
  });

  it('reads the common shapes code by code exactly as the pattern reads them', () => {
    // A leading space makes parseSourceDate take the pattern (it trims); without it, the common
    // shapes take the quick path. Both must give the same answer, valid or not.
    const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
    const shape = fc
      .tuple(
        fc.constantFrom('19', '20', '20', '20', '2a'),
        two(60, 99),
        fc.constantFrom('-', '-', '-', '/'),
        two(0, 13),
        two(0, 32),
        fc.constantFrom('', ' ', ' ', 'T', 'T', 't', 'x'),
        two(0, 24),
        fc.constantFrom(':', ':', ':', '.'),
        two(0, 60),
        two(0, 60),
        fc.constantFrom('', '', 'Z', 'Z', 'z', '.123Z', '.999Z', '.1Z', ',123Z', '.12aZ', '.123z', '+02:00', ' UTC', 'X', '.123'),
      )
      .map(([c, y, d1, mo, day, sep, h, c1, mi, sec, zone]) =>
        sep === '' ? `${c}${y}${d1}${mo}-${day}` : `${c}${y}${d1}${mo}-${day}${sep}${h}${c1}${mi}:${sec}${zone}`,
      );
    let valid = 0;
    fc.assert(
      fc.property(shape, (raw) => {
        const quick = parseSourceDate(raw, NOW);
        expect(quick, raw).toEqual(parseSourceDate(` ${raw}`, NOW));
        if (quick !== null) valid++;
      }),
      { numRuns: 5000 },
    );
    expect(valid).toBeGreaterThan(100);
    expect(parseSourceDate('2024-03-01T10:15:00.250Z', NOW)).toEqual(new Date('2024-03-01T10:15:00.250Z'));
    expect(parseSourceDate('2024-03-01t10:15:00z', NOW)).toEqual(new Date('2024-03-01T10:15:00Z'));
  });

  it('knows the length of every month, leap years included', () => {
    const pad = (n: number) => String(n).padStart(2, '0');
    for (let year = 1970; year <= 2024; year++)
      for (let month = 1; month <= 12; month++) {
        const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
        for (const day of [28, 29, 30, 31]) {
          const parsed = parseSourceDate(`${year}-${pad(month)}-${pad(day)}`, NOW);
          expect(parsed === null, `${year}-${month}-${day}`).toBe(day > days);
        }
      }
  });

  it('answers null for invalid, ambiguous, ancient or future dates', () => {
    for (const bad of [
      '',
      'yesterday',
      '03/04/2024',
      '2023-02-29',
      '2024-13-01',
      '2024-01-01T24:00:00',
      '1969-12-31',
      '2024-01-01T00:00:00+15:00',
      '2024-01-01 00:00:00 PST',
    ]) {
      expect(parseSourceDate(bad, NOW), bad).toBeNull();
    }
    expect(parseSourceDate('2025-06-02T11:00:00Z', NOW)).toEqual(new Date('2025-06-02T11:00:00Z')); // within a day
    expect(parseSourceDate('2025-06-02T13:00:00Z', NOW)).toBeNull(); // more than a day ahead
  });
});

describe('text cells', () => {
  // The reference: what cleanText did before it learned to leave clean cells alone.
  const reference = (raw: string) =>
    raw
      .trim()
      .replace(/[\u0000-\u001F\u007F]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  const unit = fc.constantFrom(
    'a',
    'B',
    'é',
    '日',
    ' ',
    ' ',
    '\t',
    '\n',
    '\u0000',
    '\u007f',
    '\u00a0',
    '\u2003',
    '\u3000',
    '\ufeff',
    '\u0085',
    '-',
  );

  it('collapse white space and control characters exactly as the regular expressions would', () => {
    const mapping = mapColumns('generic', ['email', 'name', 'utm_source']);
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (raw) => {
        const result = mapRow('generic', mapping, ['a@example.com', raw, raw], { now: NOW });
        if (!result.ok) throw new Error(result.reason);
        const expected = reference(raw) === '' ? null : reference(raw);
        expect(result.member.name).toBe(expected);
        expect(result.member.utmSource).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    // The fast path's own cases: clean text, and what makes it step aside.
    const name = (raw: string) =>
      (mapRow('generic', mapping, ['a@example.com', raw], { now: NOW }) as { member: ImportedMember }).member.name;
    expect(name('Ada Lovelace')).toBe('Ada Lovelace');
    expect(name('Ada  Lovelace')).toBe('Ada Lovelace');
    expect(name('Ada\u00a0Lovelace')).toBe('Ada Lovelace');
    expect(name('Ada\u0000Lovelace')).toBe('Ada Lovelace');
  });
});

describe('addresses', () => {
  it('are one canonical form however their letters are composed; printable ASCII passes as it is', () => {
    const mapping = mapColumns('generic', ['email']);
    const email = (raw: string) => (mapRow('generic', mapping, [raw], { now: NOW }) as { member: ImportedMember }).member.email;
    // é as one code point (NFC) and as e + a combining acute (NFD), in the local part and the domain.
    expect(email('caf\u00e9@b\u00fccher.de')).toBe('caf\u00e9@xn--bcher-kva.de');
    expect(email('cafe\u0301@bu\u0308cher.de')).toBe('caf\u00e9@xn--bcher-kva.de');
    expect(email(' Ada.Lovelace+news@Example.COM ')).toBe('ada.lovelace+news@example.com');
  });
});

describe('mapRow never throws', () => {
  const headersByFormat: Record<ImportFormat, string[]> = {
    generic: fixture('generic.csv').headers,
    mailchimp: fixture('mailchimp-unsubscribed.csv').headers,
    substack: fixture('substack.csv').headers,
    ghost: fixture('ghost.csv').headers,
    beehiiv: fixture('beehiiv.csv').headers,
    kit: fixture('kit.csv').headers,
    listmonk: fixture('sources/listmonk-subscribers.csv').headers,
    hearth: ['id', 'email', 'name', 'status', 'tier', 'newsletters', 'labels', 'platform', 'referral_code', 'notes', 'access'],
  };

  function checkResult(result: RowResult): void {
    if (result.ok) {
      expect(result.member.email).toBe(result.member.email.trim().toLowerCase());
      expect(result.member.email).not.toBe('');
      expect(result.member.labels.length).toBeLessThanOrEqual(20);
    } else {
      expect(typeof result.reason).toBe('string');
      expect(result.reason).not.toBe('');
    }
  }

  it('for arbitrary string records, in every format', () => {
    fc.assert(
      fc.property(fc.constantFrom(...IMPORT_FORMATS), fc.array(fc.string({ unit: 'binary' }), { maxLength: 30 }), (format, record) => {
        checkResult(mapRow(format, mapColumns(format, headersByFormat[format]), record));
      }),
      { numRuns: 500 },
    );
  });

  it('for records whose email cell looks like an address, in every format', () => {
    let accepted = 0;
    const padded = fc
      .tuple(fc.constantFrom('', ' ', '\t'), fc.emailAddress(), fc.boolean(), fc.constantFrom('', ' ', '\n'))
      .map(([before, email, upper, after]) => before + (upper ? email.toUpperCase() : email) + after);
    fc.assert(
      fc.property(
        fc.constantFrom(...IMPORT_FORMATS),
        padded,
        fc.array(fc.string(), { minLength: 30, maxLength: 30 }),
        (format, email, cells) => {
          const mapping = mapColumns(format, headersByFormat[format]);
          const record = cells.slice();
          record[mapping.email] = email;
          const result = mapRow(format, mapping, record);
          checkResult(result);
          if (result.ok) accepted++;
        },
      ),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('for arbitrary header rows: detection and mapping either work or say why', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('email', 'Email Address', 'state', 'tags', '\uFEFFemail')), { maxLength: 12 }),
        (headers) => {
          const format = detectFormat(headers);
          if (format === null) return;
          const mapping = mapColumns(format, headers);
          expect(mapping.email).toBeGreaterThanOrEqual(0);
          expect(describeMapping(mapping, headers)[0]?.field).toBe('email');
        },
      ),
    );
  });

  it('for input outside the types (an unknown format, a non-string cell)', () => {
    const mapping = mapColumns('generic', ['email']);
    expect(mapRow('nope' as ImportFormat, mapping, ['a@example.com'])).toEqual(rejected('the row could not be read', null));
    expect(mapRow('generic', mapping, [42 as unknown as string])).toEqual(rejected('no email address', null));
    expect(mapRow('generic', { email: 5 }, ['a@example.com'])).toEqual(rejected('no email address', null));
  });
});

describe('manual column mapping', () => {
  const headers = ['E-Mail-Adresse', 'Vorname', 'Nachname', 'Notiz', 'Kundennummer'];

  it('maps headers in any language to fields, and lists the columns left out', () => {
    const mapping = mapColumns(
      'generic',
      headers,
      parseMapPairs(['E-Mail-Adresse=email', 'Vorname=first_name', 'Nachname=last_name', 'Notiz=notes']),
    );
    expect(mapping).toEqual({ email: 0, firstName: 1, lastName: 2, notes: 3 });
    expect(unmappedColumns(mapping, headers)).toEqual(['Kundennummer']);
    expect(mapRow('generic', mapping, ['Jürgen@Example.de', 'Jürgen', 'Größe', 'zahlt bar\nseit 2020', '42'], { now: NOW })).toEqual(
      member({ email: 'jürgen@example.de', name: 'Jürgen Größe', notes: 'zahlt bar\nseit 2020' }),
    );
  });

  it('lets staff ignore a column the format would read, and refuses unknown columns, fields and a field fed twice', () => {
    const ghost = ['email', 'name', 'note'];
    expect(mapColumns('ghost', ghost, { note: 'ignore' })).toEqual({ email: 0, name: 1 });
    expect(() => mapColumns('generic', headers, { Telefon: 'email' })).toThrow(/column "Telefon" that is not in this file/);
    expect(() => mapColumns('generic', headers, { Vorname: 'vorname' })).toThrow(/field "vorname" Hearth does not have/);
    expect(() => mapColumns('generic', headers, { Vorname: 'name', Nachname: 'name', 'E-Mail-Adresse': 'email' })).toThrow(/two columns/);
    expect(() => mapColumns('generic', headers, { Vorname: 'constructor' })).toThrow(ValidationError);
    expect(() => parseMapPairs(['no-equals-sign'])).toThrow(ValidationError);
    expect(parseMapPairs(['a=b=email'])).toEqual({ 'a=b': 'email' });
  });
});

describe('listmonk and Hearth exports', () => {
  it("reads listmonk's statuses and Go's dates", () => {
    const { results } = importFixture('sources/listmonk-subscribers.csv');
    expect(results).toEqual([
      member({ email: 'lena@example.com', name: 'Lena', createdAt: new Date('2023-04-05T10:11:12.123Z') }),
      member({
        email: 'spam@example.com',
        name: 'Spammer',
        status: 'blocked',
        createdAt: new Date('2023-05-06T11:12:13.654Z'),
        stateAt: new Date('2025-02-02T02:02:02.500Z'),
      }),
      member({
        email: 'off@example.com',
        name: 'Off',
        status: 'unsubscribed',
        createdAt: new Date('2023-06-07T12:13:14Z'),
        stateAt: new Date('2025-03-03T03:03:03Z'),
      }),
    ]);
  });

  it("reads Hearth's own export back, undoing its formula defusing", () => {
    const headers =
      'id,email,name,status,tier,newsletters,labels,platform,utm_source,utm_medium,utm_campaign,referrer,ref,referral_code,created_at,confirmed_at,notes,access,access_until,stripe_customer_id,unsubscribed_at,language'.split(
        ',',
      );
    expect(detectFormat(headers)).toBe('hearth');
    const mapping = mapColumns('hearth', headers);
    const record = [
      '7',
      'a@example.com',
      "'=Ann",
      'active',
      'gold',
      'weekly dispatch',
      '"a, b", c',
      'instagram',
      '',
      '',
      '',
      '',
      '',
      'abcd2345',
      '2024-01-01T00:00:00.000Z',
      '2024-01-02T00:00:00.000Z',
      "''quoted",
      'comp',
      '2030-01-01T00:00:00.000Z',
      '',
      '',
      'fr',
    ];
    expect(mapRow('hearth', mapping, record, { now: NOW })).toEqual(
      member({
        email: 'a@example.com',
        name: '=Ann',
        createdAt: new Date('2024-01-01T00:00:00Z'),
        confirmedAt: new Date('2024-01-02T00:00:00Z'),
        labels: ['a, b', 'c'],
        notes: "'quoted",
        plan: 'gold',
        access: 'comp',
        accessUntil: new Date('2030-01-01T00:00:00Z'),
        newsletters: ['weekly', 'dispatch'],
        platform: 'instagram',
        referralCode: 'abcd2345',
        language: 'fr',
      }),
    );
  });
});

describe('language', () => {
  const languages = [
    { code: 'en', name: 'English' },
    { code: 'fr', name: 'Français' },
  ];
  const headers = ['Email', 'Name', 'Locale'];

  it('reads a language or locale column from any format, as a code among the site languages', () => {
    const mapping = mapColumns('generic', headers);
    expect(mapping.language).toBe(2);
    expect(mapColumns('generic', ['email', 'language']).language).toBe(1);
    expect(mapColumns('kit', ['email_address', 'state', 'lang']).language).toBe(2);
    const language = (cell: string) => {
      const r = mapRow('generic', mapping, ['a@example.com', 'A', cell], { now: NOW, languages });
      return r.ok ? r.member.language : r.reason;
    };
    expect(['fr', 'FR', 'fr-FR', 'fr_CA', ' fr-Latn-FR ', 'French', 'français', 'en-GB', 'English', ''].map(language)).toEqual([
      'fr',
      'fr',
      'fr',
      'fr',
      'fr',
      'fr',
      'fr',
      'en',
      'en',
      null,
    ]);
  });

  it('rejects a row whose language is not one of the site languages, with the reason', () => {
    const mapping = mapColumns('generic', headers);
    for (const cell of ['de', 'de-DE', 'Klingon', 'f', 'fr--']) {
      expect(mapRow('generic', mapping, ['a@example.com', 'A', cell], { now: NOW, languages })).toEqual(
        rejected(`the language "${cell}" is not one of this site's languages (en, fr)`, 'a@example.com'),
      );
    }
  });

  it('can be mapped by hand from a header in another language', () => {
    const mapping = mapColumns('generic', ['E-Mail', 'Sprache'], { 'E-Mail': 'email', Sprache: 'language' });
    expect(mapRow('generic', mapping, ['a@example.com', 'fr-FR'], { now: NOW, languages })).toMatchObject({
      ok: true,
      member: { language: 'fr' },
    });
  });
});
