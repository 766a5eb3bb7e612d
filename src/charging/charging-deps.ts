import type { Charge } from '../billing/charge.ts';
import { billPeriodOf } from '../billing/charge.ts';
import { insertCharge } from '../billing/charge-store.ts';
import type { Clock } from '../clock/clock.ts';
import { newId } from '../ids.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Account } from '../ledger/types.ts';
import { findAccount } from '../ledger/ledger-store.ts';
import type { OrganizationCache } from '../organizations/organization-cache.ts';
import { spendingAccountOf } from '../organizations/organization-accounts.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Rating } from '../rating/rating.ts';
import type { Database, Queryable } from '../store/database.ts';
import { chargeKindOf, type UsageRecord } from './usage-record.ts';
import { insertUsage } from './usage-store.ts';

export interface ChargingDeps {
  readonly db: Database;
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly rating: Rating;
  readonly organizations: OrganizationCache;
}

/**
 * Where an organization's usage money goes: from its spending account (read fresh, for its
 * balance) to the provider's usage revenue.
 */
export async function usageAccounts(deps: ChargingDeps, organization: Organization): Promise<{ spending: Account; revenue: Account }> {
  const cached = await deps.organizations.get(organization.id);
  const spendingId = cached?.organization.paymentScheme === organization.paymentScheme ? cached.spendingAccountId : undefined;
  const [spending, revenue] = await Promise.all([
    spendingId ? findAccount(deps.db, spendingId).then((account) => account!) : spendingAccountOf(deps.db, organization),
    deps.ledger.providerAccount('revenue:usage', organization.currency),
  ]);
  return { spending, revenue };
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
): { record: UsageRecord; charge: Charge | null } {
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

export class UsageAlreadyRecorded extends Error {}

/** Writes one usage record with its charge; a record already stored means the work was done before. */
export async function writeUsage(tx: Queryable, usage: { record: UsageRecord; charge: Charge | null }): Promise<void> {
  const inserted = await insertUsage(tx, [usage.record]);
  if (!inserted.has(usage.record.externalId)) throw new UsageAlreadyRecorded(usage.record.externalId);
  if (usage.charge) await insertCharge(tx, usage.charge);
}
