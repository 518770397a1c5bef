import { domainToASCII } from 'node:url';

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

export function normaliseEmail(email: string): string {
  const trimmed = email.trim().normalize('NFC').toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  const domain = trimmed.slice(at + 1);
  // Pure ASCII is already canonical (and domainToASCII would refuse some odd but harmless input).
  if (/^[\x00-\x7f]*$/.test(domain)) return trimmed;
  const ascii = domainToASCII(domain);
  return ascii === '' ? trimmed : `${trimmed.slice(0, at)}@${ascii}`;
}

/** Why an address is refused, or null when it is acceptable. */
export function emailProblem(raw: string): string | null {
  const email = raw.trim().normalize('NFC');
  if (email === '') return 'the email address is empty';
  const at = email.lastIndexOf('@');
  if (at <= 0 || email.indexOf('@') !== at) return 'the email address needs exactly one @';
  const local = email.slice(0, at);
  const rawDomain = email.slice(at + 1);
  const domain = /^[\x00-\x7f]*$/.test(rawDomain) ? rawDomain : domainToASCII(rawDomain.toLowerCase());
  if (Buffer.byteLength(local) + 1 + domain.length > 254) return 'the email address is longer than 254 characters';
  if (Buffer.byteLength(local) > 64 || !LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return 'the part before the @ is not valid';
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !/^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]+$/.test(labels.at(-1)!)) {
    return 'the domain after the @ is not valid';
  }
  return null;
}
