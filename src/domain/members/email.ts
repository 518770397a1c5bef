/**
 * Address syntax: what we accept as an email address. Deliberately practical, not RFC 5322:
 * one @, a local part of printable characters without spaces or angle brackets, a domain with
 * at least one dot and labels of letters, digits and hyphens (or punycode), 254 characters at most.
 */
const LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Why an address is refused, or null when it is acceptable. */
export function emailProblem(raw: string): string | null {
  const email = raw.trim();
  if (email === '') return 'the email address is empty';
  if (email.length > 254) return 'the email address is longer than 254 characters';
  const at = email.lastIndexOf('@');
  if (at <= 0 || email.indexOf('@') !== at) return 'the email address needs exactly one @';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return 'the part before the @ is not valid';
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !/^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]+$/.test(labels.at(-1)!)) {
    return 'the domain after the @ is not valid';
  }
  return null;
}
