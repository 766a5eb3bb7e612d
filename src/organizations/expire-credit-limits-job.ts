import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import type { Job } from '../jobs/scheduler.ts';
import { findExpiredTemporaryOverdrafts, lockAccount, nextTemporaryOverdraftExpiry, setOverdraft } from '../ledger/ledger-store.ts';
import { lowBalanceEvent } from '../ledger/low-balance.ts';
import { insertEvents, raisedSince } from '../notifications/events.ts';
import type { Database } from '../store/database.ts';
import { creditLimitOf } from './credit-limit.ts';
import { findOrganization } from './organization-store.ts';
import { describeCreditLimit } from './set-credit-limit.ts';

/**
 * Ends temporary credit limits whose days are over: the permanent limit is back, and the audit
 * log says so at the instant it happened. The ledger already refuses spending beyond the
 * permanent limit from that instant on; this job makes it visible and final.
 */
export function expireCreditLimitsJob(db: Database, clock: Clock): Job {
  return {
    name: 'expire_credit_limits',
    nextDueAt: () => nextTemporaryOverdraftExpiry(db),
    async run() {
      const ids = await findExpiredTemporaryOverdrafts(db, clock.now(), 1000);
      let expired = 0;
      for (const id of ids) {
        const done = await db.transaction(async (tx) => {
          const account = await lockAccount(tx, id);
          const expiresAt = account?.temporaryOverdraftExpiresAt;
          // Another process, or the operator, may have got there first.
          if (!account || !expiresAt || expiresAt.getTime() > clock.now().getTime()) return false;
          const organization = account.organizationId ? await findOrganization(tx, account.organizationId) : undefined;
          const before = creditLimitOf(account, new Date(expiresAt.getTime() - 1));
          const updated = (await setOverdraft(tx, account.id, { permanent: account.overdraftLimit, temporary: null }))!;
          // Its balance.low: the limit ended at expiresAt, with the balance as it is now. A
          // posting since that already raised it took the fall from there, with the limit
          // already over: it is not raised twice.
          const fell = lowBalanceEvent(account, updated, expiresAt, new Date(expiresAt.getTime() - 1));
          if (fell && !(await raisedSince(tx, 'balance.low', fell.organizationId!, expiresAt))) await insertEvents(tx, [fell]);
          if (organization) {
            await writeAudit(tx, {
              organizationId: organization.id,
              actor: 'system',
              action: 'credit_limit.expired',
              before: describeCreditLimit(before, organization),
              after: describeCreditLimit(creditLimitOf(updated, expiresAt), organization),
              at: expiresAt,
            });
          }
          return true;
        });
        if (done) expired++;
      }
      return expired;
    },
  };
}
