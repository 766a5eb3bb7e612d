import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { IdempotencyKey, Transfer } from '../ledger/types.ts';
import { formatMicros, MICRO_DECIMALS, minorUnitDigits } from '../money/index.ts';
import type { Database } from '../store/database.ts';
import { accountsOf } from './organization-accounts.ts';
import type { Organization } from './organization.ts';

interface Deps {
  db: Database;
  ledger: Ledger;
  clock: Clock;
}

/** The transfer, and whether it is the first answer to the same idempotency key, replayed. */
export interface Recorded {
  readonly transfer: Transfer;
  readonly replayed: boolean;
}

export const PAYMENT_METHODS = ['bank_transfer', 'cash', 'cheque', 'card', 'other'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

/**
 * An operator's correction: positive amounts credit the organization, negative ones debit it.
 * Prepaid, it moves the call credit (a debit stays within the credit limit, as every charge
 * does); postpaid, the amount due.
 */
export async function recordAdjustment(
  deps: Deps,
  input: { organization: Organization; amount: bigint; reason: string; idempotencyKey: IdempotencyKey; actor: string },
): Promise<Result<Recorded, ErrorCode>> {
  const { organization, amount } = input;
  const reason = input.reason.trim();
  if (amount === 0n) return failure('invalid_amount', 'an adjustment must not be zero');
  if (reason.length === 0 || reason.length > 500) return failure('invalid_input', 'reason must be 1 to 500 characters');
  const accounts = await accountsOf(deps.db, organization);
  const wallet = organization.paymentScheme === 'prepaid' ? accounts.credit : accounts.receivable;
  const adjustments = await deps.ledger.providerAccount('adjustments', organization.currency);
  const [debit, credit] = amount > 0n ? [adjustments, wallet] : [wallet, adjustments];
  const magnitude = amount > 0n ? amount : -amount;
  return execute(deps, {
    transfer: { debitAccountId: debit.id, creditAccountId: credit.id, amount: magnitude, code: 'adjustment', metadata: { reason } },
    idempotencyKey: input.idempotencyKey,
    audit: (transfer) => ({
      organizationId: organization.id,
      actor: input.actor,
      action: 'adjustment.created',
      before: null,
      after: { transferId: transfer.id, amount: formatMicros(amount, organization.currency), account: wallet.code, reason },
      at: deps.clock.now(),
    }),
  });
}

/**
 * Records a payment received outside any gateway (a bank transfer seen on the statement, a
 * cheque, cash). It reduces the amount due; paying more leaves the amount due in credit (CR),
 * which later invoices use.
 */
export async function recordPayment(
  deps: Deps,
  input: { organization: Organization; amount: bigint; method: PaymentMethod; reference: string | null; idempotencyKey: IdempotencyKey; actor: string },
): Promise<Result<Recorded, ErrorCode>> {
  const { organization, amount } = input;
  if (amount <= 0n) return failure('invalid_amount', 'a payment must be greater than zero');
  // Money received is in the currency's smallest unit (no 0.5 JPY, no 0.001 SGD); only usage
  // and corrections are priced finer.
  const digits = minorUnitDigits(organization.currency);
  if (amount % 10n ** BigInt(MICRO_DECIMALS - digits) !== 0n) {
    return failure('invalid_amount', `a payment in ${organization.currency} has at most ${digits} decimal${digits === 1 ? '' : 's'}`);
  }
  const accounts = await accountsOf(deps.db, organization);
  const received = await deps.ledger.providerAccount(`payments:${input.method}`, organization.currency);
  return execute(deps, {
    transfer: {
      debitAccountId: received.id,
      creditAccountId: accounts.receivable.id,
      amount,
      code: 'payment',
      metadata: { method: input.method, ...(input.reference ? { reference: input.reference } : {}) },
    },
    idempotencyKey: input.idempotencyKey,
    audit: (transfer) => ({
      organizationId: organization.id,
      actor: input.actor,
      action: 'payment.recorded',
      before: null,
      after: { transferId: transfer.id, amount: formatMicros(amount, organization.currency), method: input.method, reference: input.reference },
      at: deps.clock.now(),
    }),
  });
}

/** Posts one transfer with its audit entry in the same transaction. */
async function execute(
  deps: Deps,
  input: {
    transfer: { debitAccountId: string; creditAccountId: string; amount: bigint; code: string; metadata: Record<string, unknown> };
    idempotencyKey: IdempotencyKey;
    audit: (transfer: Transfer) => Parameters<typeof writeAudit>[1];
  },
): Promise<Result<Recorded, ErrorCode>> {
  const result = await deps.ledger.execute({
    transfers: [{ kind: 'posted', ...input.transfer }],
    idempotencyKey: input.idempotencyKey,
    afterWrite: async (tx, outcome) => {
      await writeAudit(tx, input.audit(outcome.transfers[0]!));
    },
  });
  return result.ok ? { ok: true, value: { transfer: result.value.transfers[0]!, replayed: result.value.replayed } } : failure(result.code, result.message);
}
