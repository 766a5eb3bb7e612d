import { addSeconds } from '../clock/clock.ts';
import { failure, type Result } from '../errors.ts';
import type { Overdraft } from '../ledger/ledger-store.ts';
import type { Account } from '../ledger/types.ts';
import type { PaymentScheme } from './organization.ts';

/** The limit in force: how far a prepaid balance may go below zero, or how much a postpaid organization may run up. */
export interface CreditLimit {
  readonly amount: bigint;
  readonly kind: 'permanent' | 'temporary';
  /** When a temporary limit ends and the permanent one is back. */
  readonly expiresAt: Date | null;
  /** The permanent limit, in force again when a temporary one expires. */
  readonly permanentAmount: bigint;
}

export interface CreditLimitRequest {
  amount: bigint;
  /** 1 to 365: a temporary increase for this many days; absent: permanent. */
  temporaryDays?: number;
}

export const MAX_TEMPORARY_DAYS = 365;

/** The credit limit of a spending account at `now`: a temporary one counts until the instant it expires. */
export function creditLimitOf(account: Account, now: Date): CreditLimit {
  const expiresAt = account.temporaryOverdraftExpiresAt;
  if (account.temporaryOverdraftLimit !== null && expiresAt !== null && now.getTime() < expiresAt.getTime()) {
    return { amount: account.temporaryOverdraftLimit, kind: 'temporary', expiresAt, permanentAmount: account.overdraftLimit };
  }
  return { amount: account.overdraftLimit, kind: 'permanent', expiresAt: null, permanentAmount: account.overdraftLimit };
}

/**
 * The overdraft a request sets. A permanent limit replaces the permanent one and ends any
 * temporary one (the operator's newest word wins); a temporary limit leaves the permanent one
 * to come back, exactly, after its days.
 */
export function planCreditLimit(
  request: CreditLimitRequest,
  scheme: PaymentScheme,
  current: Account,
  now: Date,
): Result<Overdraft, 'invalid_amount' | 'invalid_input' | 'temporary_credit_limit_not_allowed'> {
  if (request.amount < 0n) return failure('invalid_amount', 'a credit limit cannot be negative (zero means no overdraft)');
  if (request.temporaryDays === undefined) return { ok: true, value: { permanent: request.amount, temporary: null } };
  if (!Number.isInteger(request.temporaryDays) || request.temporaryDays < 1 || request.temporaryDays > MAX_TEMPORARY_DAYS) {
    return failure('invalid_input', `temporaryDays must be a whole number from 1 to ${MAX_TEMPORARY_DAYS}`);
  }
  if (scheme === 'postpaid') return failure('temporary_credit_limit_not_allowed');
  return {
    ok: true,
    value: { permanent: current.overdraftLimit, temporary: { limit: request.amount, expiresAt: addSeconds(now, request.temporaryDays * 86_400) } },
  };
}
