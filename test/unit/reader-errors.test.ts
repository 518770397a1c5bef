import { describe, expect, it } from 'vitest';
import { DomainError, ConflictError, RateLimitedError, ValidationError } from '../../src/lib/errors.ts';
import { translator } from '../../src/lib/i18n.ts';
import { readConfirmToken, readPreferencesToken } from '../../src/domain/members/links.ts';
import { readEmailChangeToken } from '../../src/domain/membership/account.ts';
import { readOptOutToken } from '../../src/domain/community/notifications.ts';
import { checkLanguage } from '../../src/domain/members/language.ts';
import { emailProblem, emailProblemCode, invalidEmailError } from '../../src/domain/members/email.ts';
import { checkFieldValues, parseFieldValue, type MemberField } from '../../src/domain/members/fields.ts';
import { OFFER_REFUSALS, readerError, type ErrorPlace } from '../../src/web/reader-errors.ts';
import { englishLeftovers } from '../helpers/i18n.ts';

/**
 * Errors as the domain throws them, read by a reader: in English the domain's own words (the
 * catalogue must not drift from them), in French a translation with no English left.
 */
const en = translator('en');
const fr = translator('fr');

function thrown(f: () => unknown): DomainError {
  try {
    f();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('nothing thrown');
}

const field = (type: MemberField['type'], options: string[] = []) => ({ key: 'potager', label: 'Potager', type, options });
const editable: MemberField = {
  ...field('text'),
  id: '1',
  memberEditable: false,
  sortOrder: 0,
  archivedAt: null,
  createdAt: new Date(),
};

const cases: Array<[string, ErrorPlace, DomainError, string?]> = [
  ['bad confirmation link', 'confirm', thrown(() => readConfirmToken('s', 'nope'))],
  ['bad preferences link', 'preferences', thrown(() => readPreferencesToken('s', 'nope'))],
  ['bad opt-out link', 'conversation', thrown(() => readOptOutToken('s', 'nope'))],
  ['bad email-change link', 'emailChange', thrown(() => readEmailChangeToken('s', 'nope'))],
  ['unknown language', 'account', thrown(() => checkLanguage('zz'))],
  // The API's message names the field's key; a reader reads its label.
  ['a number field', 'account', thrown(() => parseFieldValue(field('number'), 'beaucoup')), 'Potager: enter a number.'],
  ['a date field', 'account', thrown(() => parseFieldValue(field('date'), 'demain')), 'Potager: enter a real date like 2026-01-31.'],
  [
    'a choice field',
    'account',
    thrown(() => parseFieldValue(field('choice', ['radis', 'chou']), 'navet')),
    'Potager: choose one of radis, chou.',
  ],
  ['a yes/no field', 'account', thrown(() => parseFieldValue(field('boolean'), 'peut-être')), 'Potager: choose yes or no.'],
  ['a long text field', 'account', thrown(() => parseFieldValue(field('text'), 'x'.repeat(501))), 'Potager: write at most 500 characters.'],
  ['a field members may not change', 'account', thrown(() => checkFieldValues([editable], { potager: 'x' }, { editableOnly: true }))],
  [
    'an archived newsletter',
    'subscribe',
    new ConflictError('"La Gazette" is closed to new subscribers.', 'newsletter_archived').with({ name: 'La Gazette' }),
  ],
  [
    'too many sign-ups from one address',
    'subscribe',
    new RateLimitedError(60, 'This address was entered many times today. Please check your inbox, or try again tomorrow.').with({
      reason: 'address',
    }),
  ],
  [
    'too many sign-ups from one network',
    'subscribe',
    new RateLimitedError(60, 'Too many sign-ups from your network. Please try again later.'),
  ],
];

describe('reader errors', () => {
  it.each(cases)('%s: the domain’s words in English, French without English in French', (_name, place, err, english) => {
    expect(readerError(en, err, place)).toBe(english ?? err.message);
    const french = readerError(fr, err, place);
    expect(french).not.toBe(err.message);
    expect(englishLeftovers(french, 'fr', ['Potager', 'La Gazette', 'zz', 'en, fr', 'radis, chou'])).toEqual([]);
  });

  it('translates every problem an email address can have, by its code', () => {
    for (const address of ['', 'a', 'a@b@c.fr', `${'a'.repeat(250)}@potager.fr`, '.a@potager.fr', 'a@potager']) {
      const code = emailProblemCode(address)!;
      expect(code).not.toBeNull();
      const err = invalidEmailError('Please check your email address', code);
      expect(err.message).toBe(`Please check your email address: ${emailProblem(address)}.`);
      expect(readerError(en, err, 'signin')).toBe(err.message);
      expect(englishLeftovers(readerError(fr, err, 'signin'), 'fr')).toEqual([]);
      // The code decides, not the English words (which the domain may reword).
      const reworded = new ValidationError('Reworded.', 'invalid_email').with({ problem: 'reworded', problem_code: code });
      expect(readerError(fr, reworded, 'signin')).toBe(readerError(fr, err, 'signin'));
    }
  });

  it('translates an offer refusal by its code, not by matching the English words', () => {
    for (const [code, key] of Object.entries(OFFER_REFUSALS)) {
      // The domain may reword its English message: the code still says which refusal it is.
      const err = new ConflictError('Reworded: this offer cannot be taken.', 'offer_unavailable').with({ refusal: code });
      const french = readerError(fr, err, 'checkout');
      expect(french, code).toBe(fr.t(key));
      expect(englishLeftovers(french, 'fr')).toEqual([]);
      expect(readerError(en, err, 'checkout'), code).toBe(en.t(key));
    }
    // No code (an error from elsewhere): English keeps the domain's words; French says it is no longer available.
    const bare = new ConflictError('Something else.', 'offer_unavailable');
    expect(readerError(en, bare, 'checkout')).toBe('Something else.');
    expect(readerError(fr, bare, 'checkout')).toBe(fr.t('errors.offerRefusal.gone'));
  });

  it('gives an unlisted error a sentence for its status in French, and the domain’s own in English', () => {
    const err = new ConflictError('Something new went wrong.', 'brand_new_code');
    expect(readerError(fr, err, 'account')).toBe('Ce n’est pas possible pour le moment.');
    expect(readerError(en, err, 'account')).toBe('Something new went wrong.');
  });
});
