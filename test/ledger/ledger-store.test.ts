import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTransfersOfAccounts, lockHoldsAndAccounts, writeBatch, type Locking } from '../../src/ledger/ledger-store.ts';
import type { Queryable, QueryResult, SqlValue } from '../../src/store/database.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

const ACCOUNTS = 5000;
const TRANSFERS = 100_000;
const NOW = new Date('2026-11-01T00:00:00Z');

/** A stand-in for a transaction that keeps each statement it is sent, to be EXPLAINed. */
function recorder(answer: Record<string, unknown>): { tx: Queryable; sent: { sql: string; params: readonly SqlValue[] }[] } {
  const sent: { sql: string; params: readonly SqlValue[] }[] = [];
  const tx: Queryable = {
    async query<Row>(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult<Row>> {
      sent.push({ sql, params });
      return { rows: [answer as Row], affectedRows: 0 };
    },
    exec: () => Promise.reject(new Error('not expected')),
    copyFromCsv: () => Promise.reject(new Error('not expected')),
  };
  return { tx, sent };
}

describe(`ledger store on ${testDatabaseKind}`, () => {
  let test: TestDatabase;
  const id = (i: number) => `acc_bulk_${String(i).padStart(6, '0')}`;

  beforeAll(async () => {
    test = await openTestDatabase();
    // Half guarded (spending accounts), half provider accounts no rule guards; with statistics,
    // so the planner knows how few rows a scan of the whole table seems to cost.
    await test.db.query(
      `INSERT INTO ledger_accounts (id, organization_id, code, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, overdraft_limit, created_at)
       SELECT 'acc_bulk_' || lpad(i::text, 6, '0'), NULL, 'bulk:' || i, 'SGD', i % 2 = 0, false, 0, $1 FROM generate_series(1, $2::int) AS i`,
      [NOW, ACCOUNTS],
    );
    // 100,000 transfers, most between accounts other than the ones a page below asks for.
    await test.db.query(
      `INSERT INTO ledger_transfers (id, kind, state, debit_account_id, credit_account_id, amount, currency, code, command_id, created_at)
       SELECT 'txf_bulk_' || lpad(i::text, 7, '0'), 'posted', 'posted', 'acc_bulk_' || lpad((1 + i % 4999)::text, 6, '0'),
         'acc_bulk_' || lpad((1 + (i % 4999 + 1 + i % 97) % 4999)::text, 6, '0'), 1, 'SGD', 'usage', 'cmd_bulk', $1
       FROM generate_series(1, $2::int) AS i`,
      [NOW, TRANSFERS],
    );
    await test.db.exec('ANALYZE ledger_accounts; ANALYZE ledger_transfers');
  });

  afterAll(async () => {
    await test?.close();
  });

  async function plans(statements: { sql: string; params: readonly SqlValue[] }[]): Promise<string[]> {
    const explained: string[] = [];
    for (const { sql, params } of statements) {
      const result = await test.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      explained.push(result.rows.map((row) => row['QUERY PLAN']).join('\n'));
    }
    return explained;
  }

  // Every batch reads and writes its accounts. There are four per organization: a scan of all of
  // them per batch cost more than the rest of the batch's write on PGlite with 1,000 organizations,
  // and grows with every organization the provider adds.
  it.each<Locking>(['serial', 'row_locks'])('finds a batch’s accounts by their key, however many accounts there are (%s)', async (locking) => {
    const accountIds = Array.from({ length: 32 }, (_, i) => id(1 + i * 97));
    const lock = recorder({});
    await lockHoldsAndAccounts(lock.tx, [], accountIds, locking);
    await lockHoldsAndAccounts(lock.tx, ['txf_none'], accountIds, locking);
    const write = recorder({ resolved: '0', stored: '0' });
    const deltas = accountIds.map((accountId) => ({ id: accountId, debitsPosted: 1n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n }));
    await writeBatch(write.tx, { created: [], resolved: [], deltas, locking, results: [], now: NOW });
    const explained = await plans([...lock.sent, ...write.sent]);
    expect(explained).toHaveLength(3);
    for (const plan of explained) expect(plan).not.toMatch(/Seq Scan on ledger_accounts/);
  });

  // An organization's ledger page: newest first, a few rows. Read backwards along the whole
  // table's key until enough rows match, it costs as much as the table is large.
  it('pages an organization’s transfers through the account indexes, however many transfers there are', async () => {
    const page = recorder({});
    await listTransfersOfAccounts(page.tx, [id(10), id(20), id(30), id(40)], { limit: 20 });
    await listTransfersOfAccounts(page.tx, [id(10), id(20), id(30), id(40)], { limit: 20, before: 'txf_bulk_0050000' });
    for (const plan of await plans(page.sent)) {
      expect(plan).not.toMatch(/Seq Scan on ledger_transfers|Index Scan Backward using ledger_transfers_pkey/);
      expect(plan).toMatch(/ledger_transfers_debit/);
      expect(plan).toMatch(/ledger_transfers_credit/);
    }
  });
});
