import { domainToASCII } from 'node:url';
import { ValidationError } from '../../lib/errors.ts';

/**
 * Address syntax: what we accept as an email address. Deliberately practical, not RFC 5322:
 * one @, a local part of printable characters without spaces or angle brackets (letters of any
 * script allowed: SMTPUTF8, RFC 6531), a domain with at least one dot and labels of letters,
 * digits and hyphens, where an internationalised domain (`bücher.de`) counts by its ASCII form
 * (`xn--bcher-kva.de`), 254 characters at most.
 *
 * One canonical form per address, so the same person is one member whatever they typed:
 * Unicode NFC, lower case, and the domain in its ASCII (punycode) form. ASCII because every mail
 * provider and DNS resolver takes it, and because addresses stored before IDN support (only
 * ASCII domains were accepted) are already in that form.
 */
const LOCAL = /^[\p{L}\p{M}\p{N}.!#$%&'*+/=?^_`{|}~-]+$/u;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Printable ASCII only: NFC leaves it as it is (and normalize() is not free, a million rows twice). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function nfc(text: string): string {
  return PRINTABLE_ASCII.test(text) ? text : text.normalize('NFC');
}

export function normaliseEmail(email: string): string {
  const trimmed = nfc(email.trim()).toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  const domain = trimmed.slice(at + 1);
  // Pure ASCII is already canonical (and domainToASCII would refuse some odd but harmless input).
  if (/^[\x00-\x7f]*$/.test(domain)) return trimmed;
  const ascii = domainToASCII(domain);
  return ascii === '' ? trimmed : `${trimmed.slice(0, at)}@${ascii}`;
}

/** Why an address is refused, as a code (reader pages translate it: web/reader-errors.ts). */
export type EmailProblem = 'empty' | 'oneAt' | 'tooLong' | 'local' | 'domain';

/** Each problem in English (the API's and the logs' words). */
export const EMAIL_PROBLEM_TEXT: Record<EmailProblem, string> = {
  empty: 'the email address is empty',
  oneAt: 'the email address needs exactly one @',
  tooLong: 'the email address is longer than 254 characters',
  local: 'the part before the @ is not valid',
  domain: 'the domain after the @ is not valid',
};

/** Why an address is refused (its code), or null when it is acceptable. */
export function emailProblemCode(raw: string): EmailProblem | null {
  const email = nfc(raw.trim());
  if (email === '') return 'empty';
  const at = email.lastIndexOf('@');
  if (at <= 0 || email.indexOf('@') !== at) return 'oneAt';
  const local = email.slice(0, at);
  const rawDomain = email.slice(at + 1);
  const domain = /^[\x00-\x7f]*$/.test(rawDomain) ? rawDomain : domainToASCII(rawDomain.toLowerCase());
  if (Buffer.byteLength(local) + 1 + domain.length > 254) return 'tooLong';
  if (Buffer.byteLength(local) > 64 || !LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return 'local';
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !/^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]+$/.test(labels.at(-1)!)) {
    return 'domain';
  }
  return null;
}

/** Why an address is refused, in English, or null when it is acceptable. */
export function emailProblem(raw: string): string | null {
  const code = emailProblemCode(raw);
  return code && EMAIL_PROBLEM_TEXT[code];
}

/**
 * The error for an address that is refused: the English sentence (`lead`: "Please check your
 * email address") with the problem, carrying the problem's code for reader pages to translate.
 */
export function invalidEmailError(lead: string, code: EmailProblem): ValidationError {
  const problem = EMAIL_PROBLEM_TEXT[code];
  return new ValidationError(`${lead}: ${problem}.`, 'invalid_email').with({ problem, problem_code: code });
}
