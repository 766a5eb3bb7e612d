import type { Queryable } from '../store/database.ts';

export interface LedgerReport {
  readonly ok: boolean;
  /** One line per thing found wrong; empty when the books balance. */
  readonly problems: string[];
  readonly accounts: number;
  readonly transfers: number;
  readonly currencies: string[];
}

/**
 * Checks the ledger's invariants from scratch: every currency sums to zero (posted and pending),
 * every account's totals equal the sum of its transfers, every transfer stays in its accounts'
 * currency, and every resolved hold has exactly one resolution that fits it.
 */
export async function verifyLedger(db: Queryable): Promise<LedgerReport> {
  const problems: string[] = [];

  const sums = await db.query<{ currency: string; posted: string; pending: string }>(
    `SELECT currency, (sum(credits_posted) - sum(debits_posted))::text AS posted,
            (sum(credits_pending) - sum(debits_pending))::text AS pending
     FROM ledger_accounts GROUP BY currency ORDER BY currency`,
  );
  for (const row of sums.rows) {
    if (row.posted !== '0') problems.push(`${row.currency}: posted credits minus debits over all accounts is ${row.posted} micro-units, not 0`);
    if (row.pending !== '0') problems.push(`${row.currency}: pending credits minus debits over all accounts is ${row.pending} micro-units, not 0`);
  }

  const mismatched = await db.query<Record<'id' | 'field' | 'stored' | 'summed', string>>(
    `WITH moves AS (
       SELECT debit_account_id AS account_id,
              coalesce(sum(amount) FILTER (WHERE kind IN ('posted', 'post_pending')), 0) AS debits_posted,
              0::numeric AS credits_posted,
              coalesce(sum(amount) FILTER (WHERE kind = 'pending' AND state = 'pending'), 0) AS debits_pending,
              0::numeric AS credits_pending
       FROM ledger_transfers GROUP BY debit_account_id
       UNION ALL
       SELECT credit_account_id, 0, coalesce(sum(amount) FILTER (WHERE kind IN ('posted', 'post_pending')), 0),
              0, coalesce(sum(amount) FILTER (WHERE kind = 'pending' AND state = 'pending'), 0)
       FROM ledger_transfers GROUP BY credit_account_id
     ), totals AS (
       SELECT account_id, sum(debits_posted) AS dp, sum(credits_posted) AS cp, sum(debits_pending) AS dq, sum(credits_pending) AS cq
       FROM moves GROUP BY account_id
     ), compared AS (
       SELECT a.id, f.field, f.stored, f.summed
       FROM ledger_accounts a LEFT JOIN totals t ON t.account_id = a.id,
       LATERAL (VALUES ('debits_posted', a.debits_posted::numeric, coalesce(t.dp, 0)),
                       ('credits_posted', a.credits_posted::numeric, coalesce(t.cp, 0)),
                       ('debits_pending', a.debits_pending::numeric, coalesce(t.dq, 0)),
                       ('credits_pending', a.credits_pending::numeric, coalesce(t.cq, 0))) AS f(field, stored, summed)
     )
     SELECT id, field, stored::text, summed::text FROM compared WHERE stored <> summed ORDER BY id, field LIMIT 1000`,
  );
  for (const row of mismatched.rows) {
    problems.push(`account ${row.id}: ${row.field} is ${row.stored} but its transfers sum to ${row.summed}`);
  }

  const foreign = await db.query<{ id: string }>(
    `SELECT t.id FROM ledger_transfers t
     JOIN ledger_accounts d ON d.id = t.debit_account_id
     JOIN ledger_accounts c ON c.id = t.credit_account_id
     WHERE d.currency <> t.currency OR c.currency <> t.currency ORDER BY t.id LIMIT 1000`,
  );
  for (const row of foreign.rows) problems.push(`transfer ${row.id}: its currency differs from its accounts'`);

  const dangling = await db.query<{ id: string }>(
    `SELECT t.id FROM ledger_transfers t
     WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = t.debit_account_id)
        OR NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = t.credit_account_id)
        OR (t.pending_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ledger_transfers h WHERE h.id = t.pending_id))
     ORDER BY t.id LIMIT 1000`,
  );
  for (const row of dangling.rows) problems.push(`transfer ${row.id} refers to an account or hold that does not exist`);

  const holds = await db.query<{ id: string; problem: string }>(
    `SELECT id, problem FROM (SELECT h.id,
       CASE
         WHEN h.state = 'pending' AND r.id IS NOT NULL THEN 'is pending but has a resolution ' || r.id
         WHEN h.state <> 'pending' AND r.id IS NULL THEN 'is ' || h.state || ' but nothing resolved it'
         WHEN r.kind <> CASE h.state WHEN 'posted' THEN 'post_pending' WHEN 'voided' THEN 'void_pending' ELSE 'expire_pending' END
           THEN 'is ' || h.state || ' but was resolved by a ' || r.kind
         WHEN r.amount > h.amount THEN 'was posted for more than it held'
         WHEN r.kind <> 'post_pending' AND r.amount <> h.amount THEN 'was released for another amount than it held'
         WHEN r.debit_account_id <> h.debit_account_id OR r.credit_account_id <> h.credit_account_id THEN 'was resolved on other accounts'
       END AS problem
     FROM ledger_transfers h LEFT JOIN ledger_transfers r ON r.pending_id = h.id
     WHERE h.kind = 'pending') AS checked
     WHERE problem IS NOT NULL ORDER BY id LIMIT 1000`,
  );
  for (const row of holds.rows) problems.push(`hold ${row.id} ${row.problem}`);

  const strays = await db.query<{ id: string }>(
    `SELECT r.id FROM ledger_transfers r JOIN ledger_transfers h ON h.id = r.pending_id WHERE h.kind <> 'pending' ORDER BY r.id LIMIT 1000`,
  );
  for (const row of strays.rows) problems.push(`transfer ${row.id} resolves a transfer that is not a hold`);

  const counts = await db.query<{ accounts: string; transfers: string }>(
    `SELECT (SELECT count(*) FROM ledger_accounts)::text AS accounts, (SELECT count(*) FROM ledger_transfers)::text AS transfers`,
  );
  return {
    ok: problems.length === 0,
    problems,
    accounts: Number(counts.rows[0]!.accounts),
    transfers: Number(counts.rows[0]!.transfers),
    currencies: sums.rows.map((row) => row.currency),
  };
}
