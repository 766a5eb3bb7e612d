/**
 * The one registry of error codes Ringbill answers with, grouped by area, each with its HTTP
 * status and a default message. Domain code returns these codes as typed failures; only the
 * HTTP layer turns them into responses, and the CLI into exit codes.
 */
export const ERROR_CODES = {
  // Input
  invalid_input: { status: 400, message: 'The request is not valid.' },
  invalid_amount: { status: 400, message: 'The amount is not valid.' },
  invalid_rate_deck: { status: 400, message: 'The rate deck has rows that cannot be used; nothing was imported.' },
  invalid_cdr_file: { status: 400, message: 'The CDR file cannot be read.' },
  idempotency_key_required: { status: 400, message: 'This request moves money: send an Idempotency-Key header.' },

  // Auth
  unauthenticated: { status: 401, message: 'Send a valid API key as "Authorization: Bearer <key>".' },
  forbidden: { status: 403, message: 'This key may not do that.' },

  // Transport
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send JSON with Content-Type: application/json.' },
  request_timeout: { status: 408, message: 'The request did not arrive in time.' },
  headers_too_large: { status: 431, message: 'The request’s headers are larger than the server reads (16 KiB).' },
  bad_request: { status: 400, message: 'The request is not HTTP the server can read.' },

  // Unknown (or another tenant's) resources
  not_found: { status: 404, message: 'No such resource.' },
  organization_not_found: { status: 404, message: 'No such organization.' },
  account_not_found: { status: 404, message: 'No such account.' },
  transfer_not_found: { status: 404, message: 'No such transfer.' },
  rate_deck_not_found: { status: 404, message: 'No such rate deck.' },
  session_not_found: { status: 404, message: 'No such charging session.' },

  // Conflicts
  idempotency_conflict: { status: 409, message: 'This Idempotency-Key was already used for a different request.' },
  account_exists: { status: 409, message: 'An account with this code and currency already exists.' },
  last_operator_key: { status: 409, message: 'This is the last operator key that works: create another before revoking it.' },
  account_code_taken: { status: 409, message: 'Another organization already has this account code.' },

  // Business rules
  amount_out_of_range: { status: 422, message: 'The amount would take an account’s totals beyond what the ledger can hold.' },
  insufficient_credit: { status: 422, message: 'The account does not have enough usable credit.' },
  exceeds_debits: { status: 422, message: 'The credit would exceed the account’s debits.' },
  currency_mismatch: { status: 422, message: 'The accounts are in different currencies.' },
  same_account: { status: 422, message: 'A transfer needs two different accounts.' },
  transfer_not_pending: { status: 422, message: 'Only a hold (a pending transfer) can be posted or voided.' },
  hold_already_posted: { status: 422, message: 'The hold was already posted.' },
  hold_already_voided: { status: 422, message: 'The hold was already voided.' },
  hold_expired: { status: 422, message: 'The hold expired and its credit was released.' },
  post_exceeds_hold: { status: 422, message: 'A hold cannot be posted for more than it holds.' },
  hold_in_session: { status: 422, message: 'The hold is a live call’s: the call’s session posts and releases it.' },
  credit_limit_required: { status: 422, message: 'A postpaid organization needs a credit limit.' },
  temporary_credit_limit_not_allowed: { status: 422, message: 'A postpaid credit limit resets every bill period; it cannot be temporary.' },
  currency_locked: { status: 422, message: 'The organization has ledger activity in its currency; its currency can no longer change.' },
  payment_scheme_locked: { status: 422, message: 'The organization has ledger activity; its payment scheme can no longer change.' },
  no_rate_deck: { status: 422, message: 'The organization has no rate deck, and there is no default deck.' },
  no_rate: { status: 422, message: 'The rate deck has no price for this destination.' },
  session_ended: { status: 409, message: 'The charging session has ended.' },
  organization_not_active: { status: 422, message: 'The organization is suspended or closed: it cannot be charged.' },

  // Server
  overloaded: { status: 503, message: 'The server is busy and did not carry out the request; send the same request again shortly (a retry never charges twice).' },
  // nginx's code for a client that closed the connection first: logged, never read by anyone.
  request_abandoned: { status: 499, message: 'The client closed the connection before the request was carried out; nothing was done.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An expected failure, as domain functions return it. */
export interface Failure<Code extends ErrorCode = ErrorCode> {
  readonly ok: false;
  readonly code: Code;
  readonly message: string;
  /** Item by item, where one request has many problems (the lines of a file). */
  readonly details?: readonly Record<string, unknown>[];
}

export type Result<T, Code extends ErrorCode = ErrorCode> = { readonly ok: true; readonly value: T } | Failure<Code>;

export function failure<Code extends ErrorCode>(code: Code, message?: string, details?: readonly Record<string, unknown>[]): Failure<Code> {
  return { ok: false, code, message: message ?? ERROR_CODES[code].message, ...(details ? { details } : {}) };
}

export function success<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** A failure carried through code that throws, such as an HTTP handler; the HTTP layer maps it. */
export class RingbillError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: readonly Record<string, unknown>[],
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RingbillError';
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  static from(failed: Failure): RingbillError {
    return new RingbillError(failed.code, failed.message, failed.details);
  }
}

/** Unwraps a result, throwing its failure as a RingbillError for the HTTP or CLI layer to map. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw RingbillError.from(result);
  return result.value;
}
