import { ConflictError, type DomainError, UnavailableError } from '../../lib/errors.ts';
import { errorFields, log } from '../../lib/log.ts';
import { isMissingInStripe, isStripeError } from '../../lib/stripe.ts';

/**
 * What every Stripe call of the billing capability shares: the refusal when payments are not set
 * up, and the wrapper that turns a Stripe failure into a message for whoever is waiting. Its own
 * module so offers, gifts, cancellation and adoption use it without importing billing.ts (which
 * imports them: a cycle).
 */
export class PaymentsNotConfigured extends ConflictError {
  constructor() {
    super('Payments are not configured on this site.', 'payments_not_configured');
  }
}

/**
 * A call to Stripe made for someone waiting on a page: any Stripe failure becomes a domain error
 * with a message for them (and the details in the log), never a 500. Nothing was charged.
 */
export async function callStripe<T>(
  what: string,
  call: () => Promise<T>,
  options: {
    /** The error to throw when Stripe says the object does not exist. */
    ifMissing?: DomainError;
    /** Staff are told Stripe's own reason for a refusal (readers get a plain sentence). */
    forStaff?: boolean;
  } = {},
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isStripeError(err)) throw err;
    if (options.ifMissing && isMissingInStripe(err)) throw options.ifMissing;
    log.warn('stripe call failed', {
      what,
      stripeType: err.type,
      code: err.code,
      status: err.statusCode,
      requestId: err.requestId,
      ...errorFields(err),
    });
    if (err.statusCode === 400 || err.statusCode === 404 || err.statusCode === 402) {
      if (options.forStaff) throw new UnavailableError(`Stripe refused the request: ${err.message}`, 'payments_refused');
      throw new UnavailableError(
        'Stripe refused the request, so nothing was charged. Please try again; if it happens again, tell us and we will look into it.',
        'payments_refused',
      );
    }
    throw new UnavailableError(
      'We could not reach our payment provider, so nothing was charged. Please try again in a minute.',
      'payments_unavailable',
    );
  }
}
