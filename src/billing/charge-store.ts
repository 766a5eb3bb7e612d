import type { Currency } from '../money/index.ts';
import type { Queryable } from '../store/database.ts';
import type { Charge, ChargeKind } from './charge.ts';

export async function insertCharge(db: Queryable, charge: Charge): Promise<void> {
  await db.query(
    `INSERT INTO charges (id, organization_id, kind, description, amount, currency, bill_period, occurred_at, transfer_id, invoice_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      charge.id,
      charge.organizationId,
      charge.kind,
      charge.description,
      charge.amount,
      charge.currency,
      charge.billPeriod,
      charge.occurredAt,
      charge.transferId,
      charge.invoiceId,
      charge.createdAt,
    ],
  );
}

/** Inserts many charges in one statement. */
export async function insertCharges(db: Queryable, charges: readonly Charge[]): Promise<void> {
  if (charges.length === 0) return;
  await db.query(
    `INSERT INTO charges (id, organization_id, kind, description, amount, currency, bill_period, occurred_at, transfer_id, invoice_id, created_at)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::timestamptz[])`,
    [
      charges.map((c) => c.id),
      charges.map((c) => c.organizationId),
      charges.map((c) => c.kind),
      charges.map((c) => c.description),
      charges.map((c) => c.amount),
      charges.map((c) => c.currency),
      charges.map((c) => c.billPeriod),
      charges.map((c) => c.occurredAt),
      charges.map((c) => c.transferId),
      charges.map((c) => c.invoiceId),
      charges.map((c) => c.createdAt),
    ],
  );
}

/** Sums of the organization's charges no invoice has taken yet, by kind. */
export async function sumUninvoicedCharges(db: Queryable, organizationId: string): Promise<Map<ChargeKind, bigint>> {
  const result = await db.query<{ kind: ChargeKind; total: bigint }>(
    `SELECT kind, sum(amount)::bigint AS total FROM charges WHERE organization_id = $1 AND invoice_id IS NULL GROUP BY kind`,
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
