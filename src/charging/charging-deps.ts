import type { Charge } from '../billing/charge.ts';
import { billPeriodOf } from '../billing/charge.ts';
import type { Clock } from '../clock/clock.ts';
import { newId } from '../ids.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { OrganizationCache } from '../organizations/organization-cache.ts';
import { spendingAccountOf } from '../organizations/organization-accounts.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Rating } from '../rating/rating.ts';
import type { Database } from '../store/database.ts';
import type { UsageWithCharge } from './charging-records.ts';
import type { SessionCache } from './session-cache.ts';
import { chargeKindOf, type UsageRecord } from './usage-record.ts';

export interface ChargingDeps {
  readonly db: Database;
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly rating: Rating;
  readonly organizations: OrganizationCache;
  readonly sessions: SessionCache;
}

/**
 * Where an organization's usage money goes: from its spending account to the provider's usage
 * revenue. By id only, from caches when they have them: the ledger reads them under its locks.
 */
export async function usageAccountIds(deps: ChargingDeps, organization: Organization): Promise<{ spendingId: string; revenueId: string }> {
  const cached = await deps.organizations.get(organization.id);
  const spendingId = cached && sameSpendingAccount(cached.organization, organization) ? cached.spendingAccountId : undefined;
  const [spending, revenue] = await Promise.all([spendingId ?? spendingAccountOf(deps.db, organization).then((account) => account.id), deps.ledger.providerAccount('revenue:usage', organization.currency)]);
  return { spendingId: spending, revenueId: revenue.id };
}

/** Whether two reads of an organization charge the same account: its payment scheme and currency choose it. */
function sameSpendingAccount(a: Organization, b: Organization): boolean {
  return a.paymentScheme === b.paymentScheme && a.currency === b.currency;
}

export async function timeZoneOf(deps: ChargingDeps, organization: Organization): Promise<string> {
  return (await deps.organizations.get(organization.id))?.timeZone ?? 'UTC';
}

/**
 * A usage record and, when it cost something, the charge that puts it on the next invoice;
 * written together by the caller, in the transaction that moved the money.
 */
export function usageWithCharge(
  fields: Omit<UsageRecord, 'id' | 'chargeId' | 'billPeriod' | 'createdAt' | 'currency'>,
  organization: Organization,
  timeZone: string,
  transferId: string | null,
  now: Date,
): UsageWithCharge {
  const billPeriod = billPeriodOf(fields.startedAt, timeZone);
  const charge: Charge | null =
    fields.cost > 0n
      ? {
          id: newId('chg'),
          organizationId: organization.id,
          kind: chargeKindOf(fields.service),
          description: `${fields.destinationName || fields.destination} (${fields.service})`,
          amount: fields.cost,
          currency: organization.currency,
          billPeriod,
          occurredAt: fields.startedAt,
          transferId,
          invoiceId: null,
          createdAt: now,
        }
      : null;
  return {
    record: { ...fields, id: newId('usg'), currency: organization.currency, billPeriod, chargeId: charge?.id ?? null, createdAt: now },
    charge,
  };
}
