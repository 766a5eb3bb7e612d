import type { Currency } from '../money/index.ts';
import { arrayColumns, queryWith, type Queryable, type SqlParam } from '../store/database.ts';
import type { Charge, ChargeKind } from './charge.ts';

export function insertCharge(db: Queryable, charge: Charge): Promise<void> {
  return insertCharges(db, [charge]);
}

/** Inserts many charges in one statement. */
export function insertChargesStatement(charges: readonly Charge[], param: SqlParam): string {
  const column = arrayColumns(charges, param);
  return `INSERT INTO charges (id, organization_id, kind, description, amount, currency, bill_period, occurred_at, transfer_id, invoice_id, created_at)
     SELECT * FROM unnest(${[
       column((c) => c.id, 'text'),
       column((c) => c.organizationId, 'uuid'),
       column((c) => c.kind, 'text'),
       column((c) => c.description, 'text'),
       column((c) => c.amount, 'bigint'),
       column((c) => c.currency, 'text'),
       column((c) => c.billPeriod, 'text'),
       column((c) => c.occurredAt, 'timestamptz'),
       column((c) => c.transferId, 'text'),
       column((c) => c.invoiceId, 'text'),
       column((c) => c.createdAt, 'timestamptz'),
     ].join(', ')})`;
}

export async function insertCharges(db: Queryable, charges: readonly Charge[]): Promise<void> {
  if (charges.length > 0) await queryWith(db, (param) => insertChargesStatement(charges, param));
}

/** Sums of the organization's charges no invoice has taken yet, by kind. */
/**
 * An organization's uninvoiced charges by kind, positive amounts owed, with what its calls still
 * running have posted so far as `call`: a long call's minutes are spent from the first update,
 * and its charge is written only when it ends. One statement, so that a call ending meanwhile is
 * counted once, as a charge or as running, never both.
 */
export async function sumUninvoicedCharges(db: Queryable, organizationId: string): Promise<Map<ChargeKind, bigint>> {
  const result = await db.query<{ kind: ChargeKind; total: bigint }>(
    `SELECT kind, sum(amount)::bigint AS total FROM (
       SELECT kind, amount FROM charges WHERE organization_id = $1 AND invoice_id IS NULL
       UNION ALL
       SELECT 'call', posted_amount FROM charging_sessions WHERE organization_id = $1 AND state = 'active' AND posted_amount > 0
     ) AS owed GROUP BY kind`,
    [organizationId],
  );
  return new Map(result.rows.map((row) => [row.kind, row.total]));
}

export async function findChargeByTransfer(db: Queryable, transferId: string): Promise<Charge | undefined> {
  const result = await db.query<{
    id: string;
    organization_id: string;
    kind: ChargeKind;
    description: string;
    amount: bigint;
    currency: string;
    bill_period: string;
    occurred_at: Date;
    transfer_id: string | null;
    invoice_id: string | null;
    created_at: Date;
  }>(
    `SELECT id, organization_id, kind, description, amount, currency, bill_period, occurred_at, transfer_id, invoice_id, created_at
     FROM charges WHERE transfer_id = $1`,
    [transferId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    organizationId: row.organization_id,
    kind: row.kind,
    description: row.description,
    amount: row.amount,
    currency: row.currency as Currency,
    billPeriod: row.bill_period,
    occurredAt: row.occurred_at,
    transferId: row.transfer_id,
    invoiceId: row.invoice_id,
    createdAt: row.created_at,
  };
}
