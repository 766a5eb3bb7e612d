import type { Account } from '../../src/ledger/types.ts';
import type { Currency } from '../../src/money/index.ts';

export const T0 = new Date('2026-11-01T00:00:00Z');

/** A ledger account as plain values, for the pure core's tests. */
export function account(id: string, fields: Partial<Account> = {}): Account {
  return {
    id,
    organizationId: null,
    code: id,
    currency: 'SGD' as Currency,
    debitsPosted: 0n,
    creditsPosted: 0n,
    debitsPending: 0n,
    creditsPending: 0n,
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    overdraftLimit: 0n,
    temporaryOverdraftLimit: null,
    temporaryOverdraftExpiresAt: null,
    lowBalanceThreshold: null,
    createdAt: T0,
    ...fields,
  };
}
