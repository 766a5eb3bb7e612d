import { formatMicros } from '../money/index.ts';
import { insertEvents, insertEventsStatement, newEvent, type RingbillEvent } from '../notifications/events.ts';
import type { Queryable } from '../store/database.ts';
import { availableBalance } from './apply-command.ts';
import type { Account, BatchWriter } from './types.ts';

/**
 * `balance.low`: raised by the change that takes an account's available balance from above its
 * low-balance threshold to at or below it, in that change's transaction. Every change of an
 * account's balance or limit happens under its lock, so comparing the balance just before and
 * just after each one raises the event exactly once per fall, in the order the falls happened,
 * whatever moved the money: a call, an event, a CDR file, a transfer, a credit limit cut or
 * running out. No flag is needed to know it was raised, and none can go stale.
 */

/** At or below its low-balance threshold (as of `at`, since a temporary credit limit ends in time). */
function isLow(account: Account, at: Date): boolean {
  return account.lowBalanceThreshold !== null && availableBalance(account, at) <= account.lowBalanceThreshold;
}

/**
 * The event for a change that took an account from not low to low, or undefined. Each side is
 * judged by its own threshold, so that setting a threshold above what is left is a fall too.
 * `beforeAt` is when the account was as `before` (a temporary credit limit's last instant).
 */
export function lowBalanceEvent(before: Account, after: Account, at: Date, beforeAt: Date = at): RingbillEvent | undefined {
  if (isLow(before, beforeAt) || !isLow(after, at)) return undefined;
  return newEvent({
    type: 'balance.low',
    organizationId: after.organizationId,
    data: {
      usableCredits: formatMicros(availableBalance(after, at), after.currency),
      threshold: formatMicros(after.lowBalanceThreshold!, after.currency),
      currency: after.currency,
    },
    createdAt: at,
  });
}

/**
 * For a change made outside the ledger's batches (a credit limit, a threshold), under the
 * account's lock: raises the event in the change's transaction if it was a fall.
 */
export async function raiseLowBalance(tx: Queryable, before: Account, after: Account, at: Date): Promise<void> {
  const fell = lowBalanceEvent(before, after, at);
  if (fell) await insertEvents(tx, [fell]);
}

/** The ledger writes the events of a batch in the batch's own write statement. */
export const lowBalanceEvents: BatchWriter<RingbillEvent> = {
  statement: (events, param) => ({ sql: insertEventsStatement(events, param) }),
};
