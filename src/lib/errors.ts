/**
 * Typed domain errors. Domain code throws these; routes map them to HTTP statuses
 * (src/web/http.ts) and the CLI to exit codes. Messages are written for the person who
 * made the request: safe to show, with no internal detail.
 */
export class DomainError extends Error {
  readonly code: string;
  /** What a translated message of this error needs (a newsletter's name…): web/reader-errors.ts. */
  readonly values: Record<string, string | number> = {};
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }

  /** Adds the values a translation of the message needs; returns the error, to throw. */
  with(values: Record<string, string | number>): this {
    Object.assign(this.values, values);
    return this;
  }
}

/** The input is malformed or breaks a rule (400/422). */
export class ValidationError extends DomainError {
  constructor(message: string, code = 'invalid') {
    super(code, message);
  }
}

/** Who is asking could not be established (401). */
export class UnauthorizedError extends DomainError {
  constructor(message = 'Sign in to continue.', code = 'unauthorized') {
    super(code, message);
  }
}

/** Who is asking is known but may not do this (403). */
export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do that.', code = 'forbidden') {
    super(code, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(message = 'Not found.', code = 'not_found') {
    super(code, message);
  }
}

/** The request conflicts with the current state (409). */
export class ConflictError extends DomainError {
  constructor(message: string, code = 'conflict') {
    super(code, message);
  }
}

/** Too many attempts (429); retry after `retryAfter` seconds. */
export class RateLimitedError extends DomainError {
  readonly retryAfter: number;
  constructor(retryAfter: number, message = 'Too many attempts. Please wait a little and try again.') {
    super('rate_limited', message);
    this.retryAfter = retryAfter;
  }
}

/** An outside service (payments, mail) could not be reached or refused the call (503); nothing was changed. */
export class UnavailableError extends DomainError {
  constructor(message: string, code = 'unavailable') {
    super(code, message);
  }
}
