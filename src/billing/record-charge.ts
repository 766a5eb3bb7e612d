import type { Clock } from '../clock/clock.ts';
import { failure, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CommandResult, Ledger } from '../ledger/ledger.ts';
import type { IdempotencyKey, Transfer } from '../ledger/types.ts';
import { findBillingProfile } from '../organizations/organization-store.ts';
import { spendingAccountOf } from '../organizations/organization-accounts.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Database } from '../store/database.ts';
import { billPeriodOf, isUsage, type Charge, type ChargeKind } from './charge.ts';
import { findChargeByTransfer, insertCharge } from './charge-store.ts';

export interface ChargeRequest {
  organization: Organization;
  kind: ChargeKind;
  /** Positive, in the organization's currency. */
  amount: bigint;
  description: string;
  occurredAt: Date;
  idempotencyKey: IdempotencyKey;
}

/**
 * Charges an organization: prepaid from its call credit (within its credit limit), postpaid onto
 * its unbilled amount (within its postpaid limit), with the charge recorded for its next invoice
 * in the same transaction. Refused with `insufficient_credit` beyond what it may spend.
 */
export async function recordCharge(
  deps: { db: Database; ledger: Ledger; clock: Clock },
  request: ChargeRequest,
): Promise<Result<{ charge: Charge; transfer: Transfer }> | Exclude<CommandResult, { ok: true }>> {
  if (request.amount <= 0n) return failure('invalid_amount', 'a charge must be greater than zero');
  const { organization } = request;
  const [spending, profile] = await Promise.all([spendingAccountOf(deps.db, organization), findBillingProfile(deps.db, organization.id)]);
  const revenue = await deps.ledger.providerAccount(isUsage(request.kind) ? 'revenue:usage' : `revenue:${request.kind}`, organization.currency);
  let charge: Charge | undefined;
  const result = await deps.ledger.execute({
    transfers: [{ kind: 'posted', debitAccountId: spending.id, creditAccountId: revenue.id, amount: request.amount, code: `charge:${request.kind}` }],
    idempotencyKey: request.idempotencyKey,
    afterWrite: async (tx, outcome) => {
      charge = {
        id: newId('chg'),
        organizationId: organization.id,
        kind: request.kind,
        description: request.description,
        amount: request.amount,
        currency: organization.currency,
        billPeriod: billPeriodOf(request.occurredAt, profile?.timeZone ?? 'UTC'),
        occurredAt: request.occurredAt,
        transferId: outcome.transfers[0]!.id,
        invoiceId: null,
        createdAt: deps.clock.now(),
      };
      await insertCharge(tx, charge);
    },
  });
  if (!result.ok) return result;
  if (!charge) {
    // A replay: the charge was recorded by the first request.
    return { ok: true, value: { charge: (await findChargeByTransfer(deps.db, result.value.transfers[0]!.id))!, transfer: result.value.transfers[0]! } };
  }
  return { ok: true, value: { charge, transfer: result.value.transfers[0]! } };
}
