import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { lockAccount, setOverdraft } from '../ledger/ledger-store.ts';
import { raiseLowBalance } from '../ledger/low-balance.ts';
import { formatMicros } from '../money/index.ts';
import type { Database } from '../store/database.ts';
import { creditLimitOf, planCreditLimit, type CreditLimit, type CreditLimitRequest } from './credit-limit.ts';
import { spendingAccountOf } from './organization-accounts.ts';
import { findOrganization } from './organization-store.ts';
import type { Organization } from './organization.ts';

/** A credit limit as the audit log keeps it: amounts in the organization's currency. */
export function describeCreditLimit(limit: CreditLimit, organization: Organization): Record<string, unknown> {
  return {
    amount: formatMicros(limit.amount, organization.currency),
    kind: limit.kind,
    expiresAt: limit.expiresAt?.toISOString() ?? null,
    permanentAmount: formatMicros(limit.permanentAmount, organization.currency),
  };
}

/** Sets an organization's credit limit, permanent or temporary, and writes it to the audit log. */
export async function setCreditLimit(
  deps: { db: Database; clock: Clock },
  input: { organizationId: string; actor: string } & CreditLimitRequest,
): Promise<Result<CreditLimit, ErrorCode>> {
  return deps.db.transaction(async (tx) => {
    const organization = await findOrganization(tx, input.organizationId, { lock: true });
    if (!organization) return failure('organization_not_found');
    const spending = await lockAccount(tx, (await spendingAccountOf(tx, organization)).id);
    const now = deps.clock.now();
    const planned = planCreditLimit(input, organization.paymentScheme, spending!, now);
    if (!planned.ok) return planned;
    const updated = (await setOverdraft(tx, spending!.id, planned.value))!;
    await raiseLowBalance(tx, spending!, updated, now);
    const before = creditLimitOf(spending!, now);
    const after = creditLimitOf(updated, now);
    await writeAudit(tx, {
      organizationId: organization.id,
      actor: input.actor,
      action: 'credit_limit.set',
      before: describeCreditLimit(before, organization),
      after: { ...describeCreditLimit(after, organization), ...(input.temporaryDays === undefined ? {} : { temporaryDays: input.temporaryDays }) },
      at: now,
    });
    return { ok: true, value: after };
  });
}
