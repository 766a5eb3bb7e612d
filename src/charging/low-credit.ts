import type { Clock } from '../clock/clock.ts';
import { raiseEvent } from '../notifications/events.ts';
import { formatMicros } from '../money/index.ts';
import { availableBalance } from '../ledger/apply-command.ts';
import { spendingAccountOf } from '../organizations/organization-accounts.ts';
import { setLowCreditRaised } from '../organizations/organization-store.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Database } from '../store/database.ts';

/**
 * Raises `balance.low` once each time an organization's usable credit falls to or below its
 * threshold. `usableBefore` (what the charging step saw before it spent) re-arms the flag when
 * credit was above the threshold again, however it got there (a top-up, a payment, a limit).
 */
export async function checkLowCredit(deps: { db: Database; clock: Clock }, organization: Organization, usableBefore?: bigint | { spent: bigint }): Promise<boolean> {
  const threshold = organization.lowCreditThreshold;
  if (threshold === null) return false;
  const now = deps.clock.now();
  const usable = availableBalance(await spendingAccountOf(deps.db, organization), now);
  // `spent`: charged in one go (a CDR file), so the credit before is what is left plus that.
  const before = typeof usableBefore === 'object' ? usable + usableBefore.spent : usableBefore;
  if (before !== undefined && before > threshold) await setLowCreditRaised(deps.db, organization.id, false);
  if (usable > threshold) {
    await setLowCreditRaised(deps.db, organization.id, false);
    return false;
  }
  return deps.db.transaction(async (tx) => {
    // The conditional update lets exactly one of several concurrent steps raise the event.
    if (!(await setLowCreditRaised(tx, organization.id, true))) return false;
    await raiseEvent(tx, {
      type: 'balance.low',
      organizationId: organization.id,
      data: { usableCredits: formatMicros(usable, organization.currency), threshold: formatMicros(threshold, organization.currency), currency: organization.currency },
      createdAt: now,
    });
    return true;
  });
}
