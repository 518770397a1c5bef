import type { OfferRefusal } from '../domain/billing/offers.ts';
import type { EmailProblem } from '../domain/members/email.ts';
import { DomainError } from '../lib/errors.ts';
import { DEFAULT_LANGUAGE, type Translator } from '../lib/i18n.ts';
import { statusFor } from './http.ts';

/**
 * A domain error as a reader reads it, in their language. The domain writes its messages in
 * English for the API and the logs; a reader page looks the error's code up here, by the page it
 * happened on (the same code can mean two things: an invalid link on the confirmation page is not
 * one on the preferences page), then among the codes every page shares. The values a message needs
 * (a newsletter's name) come with the error (`DomainError.with`). A code with no message here gets
 * a plain sentence for its status in the reader's language, never English text in another
 * language (in English, the domain's own message, which says more).
 *
 * The English catalogue (locales/en/errors.json) says what the domain says, so English readers
 * read the same words as before; test/http/i18n.test.ts walks these pages in French.
 */
export type ErrorPlace =
  | 'subscribe'
  | 'signin'
  | 'confirm'
  | 'account'
  | 'emailChange'
  | 'checkout'
  | 'billing'
  | 'cancel'
  | 'preferences'
  | 'conversation'
  | 'gift'
  | 'giftRedeem'
  | 'poll'
  | 'recommendations';

const SHARED: Record<string, string> = {
  rate_limited: 'errors.rateLimited',
  invalid_email: 'errors.invalidEmail',
  member_gone: 'errors.memberGone',
  member_not_found: 'errors.memberGone',
  invalid_token: 'errors.invalidLink',
  unknown_newsletter: 'errors.unknownNewsletters',
  newsletter_archived: 'errors.newsletterArchived',
  invalid_language: 'errors.invalidLanguage',
  unauthorized: 'errors.unauthorized',
  payments_not_configured: 'errors.paymentsNotConfigured',
  payments_unavailable: 'errors.paymentsUnavailable',
  payments_refused: 'errors.paymentsRefused',
};

const BY_PLACE: Record<ErrorPlace, Record<string, string>> = {
  subscribe: {
    invalid_newsletter: 'errors.subscribe.tooManyNewsletters',
    not_open: 'errors.subscribe.notOpen',
    unknown_newsletter: 'errors.subscribe.unknownNewsletter',
    rate_limited: 'errors.subscribe.rateLimited',
  },
  signin: {
    invalid_sign_in: 'errors.signin.invalid',
    rate_limited: 'errors.signin.rateLimited',
  },
  confirm: {
    invalid_token: 'errors.confirm.invalidLink',
    expired_token: 'errors.confirm.expiredLink',
    member_gone: 'errors.confirm.memberGone',
  },
  account: {
    invalid: 'errors.account.unknownAction',
    invalid_name: 'errors.account.invalidName',
    invalid_email: 'errors.account.invalidEmail',
    rate_limited: 'errors.account.rateLimited',
    suppressed: 'errors.account.suppressed',
    invalid_field_value: 'errors.account.invalidFieldValue',
    field_not_editable: 'errors.account.fieldNotEditable',
    unknown_field: 'errors.account.unknownField',
  },
  emailChange: {
    invalid_token: 'errors.emailChange.invalidLink',
    expired_token: 'errors.emailChange.expiredLink',
    email_taken: 'errors.emailChange.emailTaken',
    member_gone: 'errors.emailChange.memberGone',
  },
  checkout: {
    offer_not_found: 'errors.checkout.offerNotFound',
    offer_unavailable: 'errors.checkout.offerUnavailable',
    unknown_price: 'errors.checkout.unknownPrice',
  },
  billing: {
    no_customer: 'errors.billing.noCustomer',
  },
  cancel: {
    invalid_reason: 'errors.cancel.invalidReason',
    invalid_comment: 'errors.cancel.invalidComment',
    no_subscription: 'errors.cancel.noSubscription',
    offer_unavailable: 'errors.cancel.offerUnavailable',
    offer_taken: 'errors.cancel.offerTaken',
    invalid_pause: 'errors.cancel.invalidPause',
    not_pausable: 'errors.cancel.notPausable',
    already_cancelled: 'errors.cancel.alreadyCancelled',
  },
  preferences: {
    not_confirmed: 'errors.preferences.notConfirmed',
  },
  conversation: {},
  // Reader pages of locales/*/reader.json (gift, poll, "subscribe me too").
  gift: {
    invalid_months: 'reader.gift.errors.months',
    months_for_tier: 'reader.gift.errors.monthsForTier',
    unknown_tier: 'reader.gift.errors.tier',
    invalid_recipient_email: 'reader.gift.errors.recipient',
    invalid_email: 'reader.gift.errors.email',
    invalid_message: 'reader.gift.errors.message',
    invalid_date: 'reader.gift.errors.date',
    date_in_past: 'reader.gift.errors.past',
    date_too_far: 'reader.gift.errors.far',
  },
  giftRedeem: {
    gift_not_found: 'reader.gift.redeem.notFound',
    gift_refunded: 'reader.gift.redeem.refunded',
    gift_not_ready: 'reader.gift.redeem.notReady',
  },
  poll: {
    unauthorized: 'reader.poll.signInToAnswer',
    poll_gated: 'reader.poll.gatedAnswer',
    invalid_answer: 'reader.poll.chooseAnswer',
    poll_closed: 'reader.poll.closedNotRecorded',
  },
  recommendations: {
    invalid_token: 'reader.recommendations.expired',
    expired_token: 'reader.recommendations.expired',
    not_active: 'reader.recommendations.expired',
    nothing_chosen: 'reader.recommendations.nothingChosen',
  },
};

/** Why an offer is refused (domain/billing/offers.ts OfferRefusal, carried as the error's `refusal`): its message. */
export const OFFER_REFUSALS: Record<OfferRefusal, string> = {
  expired: 'errors.offerRefusal.ended',
  exhausted: 'errors.offerRefusal.claimed',
  archived: 'errors.offerRefusal.gone',
  platform: 'errors.offerRefusal.platform',
  new_members: 'errors.offerRefusal.newMembers',
  used: 'errors.offerRefusal.used',
};

/** The message of the code an error carries, from `table`; undefined when it carries no known one. */
function codeText<C extends string>(tr: Translator, table: Record<C, string>, code: unknown): string | undefined {
  return typeof code === 'string' && Object.hasOwn(table, code) ? tr.t(table[code as C]) : undefined;
}

function offerRefusalText(tr: Translator, err: DomainError): string {
  return (
    codeText(tr, OFFER_REFUSALS, err.values.refusal) ??
    // A refusal without a known code: the domain's words in English, "no longer available" otherwise.
    (tr.lang === DEFAULT_LANGUAGE ? err.message : tr.t('errors.offerRefusal.gone'))
  );
}

/** Why an email address is refused (domain/members/email.ts EmailProblem, the error's `problem_code`): its message. */
const EMAIL_PROBLEMS: Record<EmailProblem, string> = {
  empty: 'errors.emailProblem.empty',
  oneAt: 'errors.emailProblem.oneAt',
  tooLong: 'errors.emailProblem.tooLong',
  local: 'errors.emailProblem.local',
  domain: 'errors.emailProblem.domain',
};

function emailProblemText(tr: Translator, err: DomainError): string {
  return codeText(tr, EMAIL_PROBLEMS, err.values.problem_code) ?? String(err.values.problem ?? '');
}

/** The message to show a reader for a domain error that happened on `place`. */
export function readerError(tr: Translator, err: DomainError, place: ErrorPlace): string {
  const key = BY_PLACE[place][err.code] ?? SHARED[err.code];
  if (!key) return tr.lang === DEFAULT_LANGUAGE ? err.message : tr.t('errors.fallback', { status: String(statusFor(err)) });
  const values: Record<string, string | number> = { reason: 'other', ...err.values };
  if (values.problem !== undefined) values.problem = emailProblemText(tr, err);
  if (err.code === 'offer_unavailable') values.refusal = offerRefusalText(tr, err);
  return tr.t(key, values);
}

/** A page's form handling, as web/http.ts's formFailure, with the message in the reader's language. */
export function readerFailure(tr: Translator, err: unknown, response: { status?: number | undefined }, place: ErrorPlace): string {
  if (!(err instanceof DomainError)) throw err;
  response.status = statusFor(err);
  return readerError(tr, err, place);
}
