import type { Queryable, SqlParam, SqlValue } from '../store/database.ts';
import type { Currency } from '../money/index.ts';
import type { Account, BatchStatement, IdempotencyKey, Transfer, TransferKind, TransferState } from './types.ts';

const ACCOUNT_COLUMNS = `id, organization_id, code, currency, debits_posted, credits_posted, debits_pending,
  credits_pending, debits_must_not_exceed_credits, credits_must_not_exceed_debits, overdraft_limit,
  temporary_overdraft_limit, temporary_overdraft_expires_at, low_balance_threshold, created_at`;

const TRANSFER_COLUMNS = `id, kind, state, debit_account_id, credit_account_id, amount, currency, pending_id,
  timeout_at, resolved_at, code, command_id, metadata, created_at`;

interface AccountRow {
  id: string;
  organization_id: string | null;
  code: string;
  currency: string;
  debits_posted: bigint;
  credits_posted: bigint;
  debits_pending: bigint;
  credits_pending: bigint;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  overdraft_limit: bigint;
  temporary_overdraft_limit: bigint | null;
  temporary_overdraft_expires_at: Date | null;
  low_balance_threshold: bigint | null;
  created_at: Date;
}

interface TransferRow {
  id: string;
  kind: TransferKind;
  state: TransferState;
  debit_account_id: string;
  credit_account_id: string;
  amount: bigint;
  currency: string;
  pending_id: string | null;
  timeout_at: Date | null;
  resolved_at: Date | null;
  code: string;
  command_id: string;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    organizationId: row.organization_id,
    code: row.code,
    currency: row.currency as Currency,
    debitsPosted: row.debits_posted,
    creditsPosted: row.credits_posted,
    debitsPending: row.debits_pending,
    creditsPending: row.credits_pending,
    debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
    creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    overdraftLimit: row.overdraft_limit,
    temporaryOverdraftLimit: row.temporary_overdraft_limit,
    temporaryOverdraftExpiresAt: row.temporary_overdraft_expires_at,
    lowBalanceThreshold: row.low_balance_threshold,
    createdAt: row.created_at,
  };
}

function toTransfer(row: TransferRow): Transfer {
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: row.amount,
    currency: row.currency as Currency,
    pendingId: row.pending_id,
    timeoutAt: row.timeout_at,
    resolvedAt: row.resolved_at,
    code: row.code,
    commandId: row.command_id,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

export interface NewAccount {
  id: string;
  organizationId: string | null;
  code: string;
  currency: Currency;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  overdraftLimit: bigint;
  createdAt: Date;
}

/** Inserts an account, or answers undefined when one with its organization, code and currency exists. */
export async function insertAccount(db: Queryable, account: NewAccount): Promise<Account | undefined> {
  const result = await db.query<AccountRow>(
    `INSERT INTO ledger_accounts (id, organization_id, code, currency, debits_must_not_exceed_credits,
       credits_must_not_exceed_debits, overdraft_limit, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT ON CONSTRAINT ledger_accounts_one_code DO NOTHING
     RETURNING ${ACCOUNT_COLUMNS}`,
    [
      account.id,
      account.organizationId,
      account.code,
      account.currency,
      account.debitsMustNotExceedCredits,
      account.creditsMustNotExceedDebits,
      account.overdraftLimit,
      account.createdAt,
    ],
  );
  return result.rows[0] && toAccount(result.rows[0]);
}

export async function findAccount(db: Queryable, id: string): Promise<Account | undefined> {
  const result = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = $1`, [id]);
  return result.rows[0] && toAccount(result.rows[0]);
}

export async function findAccountByCode(
  db: Queryable,
  organizationId: string | null,
  code: string,
  currency: Currency,
): Promise<Account | undefined> {
  const result = await db.query<AccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts
     WHERE ${organizationId === null ? 'organization_id IS NULL' : 'organization_id = $3::uuid'} AND code = $1 AND currency = $2`,
    organizationId === null ? [code, currency] : [code, currency, organizationId],
  );
  return result.rows[0] && toAccount(result.rows[0]);
}

export interface AccountFilter {
  organizationId?: string | null;
  code?: string;
  /** Any of these codes. */
  codes?: readonly string[];
  currency?: Currency;
  /** Accounts after this id, in id order. */
  after?: string;
  limit: number;
}

export async function listAccounts(db: Queryable, filter: AccountFilter): Promise<Account[]> {
  // Conditions are added only when asked for, so that each query can use its index.
  const conditions: string[] = [];
  const params: (string | number | readonly string[])[] = [];
  const param = (value: string | number | readonly string[]) => `$${params.push(value)}`;
  if (filter.organizationId === null) conditions.push('organization_id IS NULL');
  else if (filter.organizationId !== undefined) conditions.push(`organization_id = ${param(filter.organizationId)}::uuid`);
  if (filter.code !== undefined) conditions.push(`code = ${param(filter.code)}`);
  if (filter.codes !== undefined) conditions.push(`code = ANY(${param(filter.codes)}::text[])`);
  if (filter.currency !== undefined) conditions.push(`currency = ${param(filter.currency)}`);
  if (filter.after !== undefined) conditions.push(`id > ${param(filter.after)}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts ${where} ORDER BY id LIMIT ${param(filter.limit)}`, params);
  return result.rows.map(toAccount);
}

/**
 * Whether reads inside a transaction must take row locks. PGlite runs one transaction at a time
 * in one process, so nothing can interleave and a lock would only cost a heap write per row.
 */
export type Locking = 'row_locks' | 'serial';

/** The accounts of several organizations at once, for a page of search results. */
export async function listAccountsOfOrganizations(db: Queryable, organizationIds: readonly string[]): Promise<Account[]> {
  if (organizationIds.length === 0) return [];
  const result = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE organization_id = ANY($1::uuid[])`, [organizationIds]);
  return result.rows.map(toAccount);
}

/**
 * A provider account that no balance rule guards (revenue, bank, adjustments): no command is ever
 * refused for its totals, so a batch needs only to add to them, not to read them under a lock.
 * Locking it with the batch's other rows would make every batch that touches it (nearly all:
 * usage revenue is one account per currency) wait for the one before to commit; it is locked
 * only by the batch's write instead, just before its commit. Its flags are set when it is created
 * and never change, and a provider account never changes currency, so an unlocked read of it
 * stays true for the whole transaction.
 */
const UNGUARDED = 'organization_id IS NULL AND NOT debits_must_not_exceed_credits AND NOT credits_must_not_exceed_debits';

/**
 * Locks accounts in id order (every writer locks in the same order, so none can deadlock); with
 * row locks, the unguarded ones are read without a lock.
 */
export async function lockAccounts(db: Queryable, ids: readonly string[], locking: Locking): Promise<Account[]> {
  if (ids.length === 0) return [];
  const sql =
    locking === 'row_locks'
      ? `WITH locked AS MATERIALIZED (SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1::text[]) AND NOT (${UNGUARDED}) ORDER BY id FOR UPDATE)
         SELECT * FROM locked UNION ALL SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1::text[]) AND ${UNGUARDED}`
      : `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1::text[])`;
  const result = await db.query<AccountRow>(sql, [ids]);
  return result.rows.map(toAccount);
}

/** What a transfer row has that an account row has not, and the other way round, with their SQL types. */
const TRANSFER_ONLY: [string, string][] = [
  ['kind', 'text'], ['state', 'text'], ['debit_account_id', 'text'], ['credit_account_id', 'text'], ['amount', 'bigint'], ['pending_id', 'text'],
  ['timeout_at', 'timestamptz'], ['resolved_at', 'timestamptz'], ['command_id', 'text'], ['metadata', 'jsonb'],
];
const ACCOUNT_ONLY: [string, string][] = [
  ['organization_id', 'uuid'], ['debits_posted', 'bigint'], ['credits_posted', 'bigint'], ['debits_pending', 'bigint'], ['credits_pending', 'bigint'],
  ['debits_must_not_exceed_credits', 'boolean'], ['credits_must_not_exceed_debits', 'boolean'], ['overdraft_limit', 'bigint'],
  ['temporary_overdraft_limit', 'bigint'], ['temporary_overdraft_expires_at', 'timestamptz'], ['low_balance_threshold', 'bigint'],
];
const SHARED = ['id', 'code', 'currency', 'created_at'];

/**
 * Locks holds about to be resolved, then every account involved (those asked for and the holds'
 * own), each in id order, in one round trip: a batch of call steps waits for every round trip
 * it makes. Holds come first, as in every batch, so that concurrent batches cannot deadlock.
 * Accounts are found with `id = ANY(ARRAY(...))`, by their key: with a join, the planner reads
 * the whole table while it has a few thousand rows (four per organization), which cost more
 * than the rest of the batch on PGlite and grows with every organization.
 */
export async function lockHoldsAndAccounts(db: Queryable, holdIds: readonly string[], accountIds: readonly string[], locking: Locking): Promise<{ holds: Transfer[]; accounts: Account[] }> {
  if (holdIds.length === 0) return { holds: [], accounts: await lockAccounts(db, accountIds, locking) };
  const lock = locking === 'row_locks' ? ' FOR UPDATE' : '';
  // One column list for both kinds of row: each fills its own columns and leaves the other's null.
  const columns = (kind: 'hold' | 'account') =>
    [
      ...SHARED,
      ...TRANSFER_ONLY.map(([name, type]) => (kind === 'hold' ? name : `NULL::${type} AS ${name}`)),
      ...ACCOUNT_ONLY.map(([name, type]) => (kind === 'account' ? name : `NULL::${type} AS ${name}`)),
    ].join(', ');
  const result = await db.query<TransferRow & AccountRow & { row_kind: 'hold' | 'account' }>(
    `WITH holds AS MATERIALIZED (
       SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY($1::text[]) ORDER BY id${lock}
     ), involved AS (
       SELECT debit_account_id AS id FROM holds UNION SELECT credit_account_id FROM holds UNION SELECT unnest($2::text[])
     ), accounts AS MATERIALIZED (
       SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(ARRAY(SELECT id FROM involved))${locking === 'row_locks' ? ` AND NOT (${UNGUARDED})` : ''}
       ORDER BY id${lock}
     )
     SELECT 'hold' AS row_kind, ${columns('hold')} FROM holds
     UNION ALL
     SELECT 'account', ${columns('account')} FROM accounts${
       locking === 'row_locks' ? `
     UNION ALL
     SELECT 'account', ${columns('account')} FROM ledger_accounts WHERE id = ANY(ARRAY(SELECT id FROM involved)) AND ${UNGUARDED}` : ''
     }`,
    [holdIds, accountIds],
  );
  return {
    holds: result.rows.filter((row) => row.row_kind === 'hold').map(toTransfer),
    accounts: result.rows.filter((row) => row.row_kind === 'account').map(toAccount),
  };
}

export async function findTransfer(db: Queryable, id: string): Promise<Transfer | undefined> {
  const result = await db.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = $1`, [id]);
  return result.rows[0] && toTransfer(result.rows[0]);
}

export async function findTransfers(db: Queryable, ids: readonly string[]): Promise<Transfer[]> {
  const result = await db.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return result.rows.map(toTransfer);
}

/** Transfers touching any of the accounts, newest first, before the `before` id when given. */
export async function listTransfersOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
  page: { before?: string; limit: number },
): Promise<Transfer[]> {
  const result = await db.query<TransferRow>(
    `SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers
     WHERE (debit_account_id = ANY($1::text[]) OR credit_account_id = ANY($1::text[]))
       AND ($2::text IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [accountIds, page.before ?? null, page.limit],
  );
  return result.rows.map(toTransfer);
}

export interface AccountDelta {
  id: string;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface BatchWrites {
  created: readonly Transfer[];
  /** Holds leaving `pending`, with their new state. */
  resolved: readonly Transfer[];
  deltas: readonly AccountDelta[];
  /** With row locks, the unguarded accounts among the deltas (not locked ahead) are locked here, in id order, before any total changes. */
  locking: Locking;
  results: readonly StoredResult[];
  now: Date;
}

/**
 * Writes a whole batch in one statement: new transfers, resolved holds, account totals (as
 * deltas), idempotency records, and the statements of the batch's writers alongside. One round
 * trip instead of one per table matters on the hot path: on a busy server every round trip of a
 * batch waits for the event loop too.
 * Answers how many idempotency records were new: fewer than asked means another transaction
 * stored one of the keys first, and the caller must roll back and replay that command.
 */
export async function writeBatch(
  db: Queryable,
  writes: BatchWrites,
  alongside: (param: SqlParam) => readonly BatchStatement[] = () => [],
): Promise<{ storedKeys: number }> {
  const { created: t, resolved: h, deltas: d, results: r } = writes;
  const params: SqlValue[] = [
      t.map((x) => x.id),
      t.map((x) => x.kind),
      t.map((x) => x.state),
      t.map((x) => x.debitAccountId),
      t.map((x) => x.creditAccountId),
      t.map((x) => x.amount),
      t.map((x) => x.currency),
      t.map((x) => x.pendingId),
      t.map((x) => x.timeoutAt),
      t.map((x) => x.resolvedAt),
      t.map((x) => x.code),
      t.map((x) => x.commandId),
      t.map((x) => (x.metadata === null ? null : JSON.stringify(x.metadata))),
      t.map((x) => x.createdAt),
      h.map((x) => x.id),
      h.map((x) => x.state),
      h.map((x) => x.resolvedAt),
      d.map((x) => x.id),
      d.map((x) => x.debitsPosted),
      d.map((x) => x.creditsPosted),
      d.map((x) => x.debitsPending),
      d.map((x) => x.creditsPending),
      r.map((x) => x.scope),
      r.map((x) => x.key),
      r.map((x) => x.requestHash),
      r.map((x) => x.commandId),
      // Ids never contain a comma, so a joined string carries the list through unnest.
      r.map((x) => x.transferIds.join(',')),
      writes.now,
  ];
  const statements = alongside((value) => `$${params.push(value)}`);
  const counted = statements.flatMap((statement, i) => (statement.check ? [`(SELECT count(*) FROM alongside_${i})::text AS alongside_${i}`] : []));
  const result = await db.query<Record<string, string>>(
    `WITH new_transfers AS (
       INSERT INTO ledger_transfers (${TRANSFER_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
         $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::jsonb[], $14::timestamptz[])
     ), resolved AS (
       -- The state guard makes a second resolution of a hold impossible, even for buggy callers.
       UPDATE ledger_transfers t SET state = v.state, resolved_at = v.resolved_at
       FROM unnest($15::text[], $16::text[], $17::timestamptz[]) AS v(id, state, resolved_at)
       WHERE t.id = v.id AND t.id = ANY($15::text[]) AND t.state = 'pending'
       RETURNING t.id
     ), locked_first AS MATERIALIZED (
       SELECT id FROM ledger_accounts
       WHERE id = ANY($18::text[]) AND ${writes.locking === 'row_locks' ? UNGUARDED : 'false'} ORDER BY id FOR UPDATE
     ), totals AS (
       -- The uncorrelated count runs once, before the first row is updated: every unguarded
       -- account is locked in id order first, so two batches cannot deadlock on them. The
       -- ANY finds the accounts by key instead of a scan of the table (see lockHoldsAndAccounts).
       UPDATE ledger_accounts a SET
         debits_posted = a.debits_posted + v.dp, credits_posted = a.credits_posted + v.cp,
         debits_pending = a.debits_pending + v.dq, credits_pending = a.credits_pending + v.cq
       FROM unnest($18::text[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[]) AS v(id, dp, cp, dq, cq)
       WHERE a.id = v.id AND a.id = ANY($18::text[]) AND (SELECT count(*) FROM locked_first) >= 0
     ), stored AS (
       INSERT INTO idempotency_keys (scope, key, request_hash, command_id, transfer_ids, created_at)
       SELECT scope, key, request_hash, command_id, string_to_array(transfer_ids, ','), $28
       FROM unnest($23::text[], $24::text[], $25::text[], $26::text[], $27::text[]) AS v(scope, key, request_hash, command_id, transfer_ids)
       ON CONFLICT DO NOTHING
       RETURNING key
     )${statements.map((statement, i) => `, alongside_${i} AS (${statement.sql})`).join('')}
     SELECT ${['(SELECT count(*) FROM resolved)::text AS resolved', '(SELECT count(*) FROM stored)::text AS stored', ...counted].join(', ')}`,
    params,
  );
  const row = result.rows[0]!;
  // Holds were locked by this transaction, so they cannot have been resolved by another.
  if (Number(row.resolved) !== h.length) throw new Error(`resolved ${row.resolved} of ${h.length} holds: a hold was resolved twice`);
  const storedKeys = Number(row.stored);
  // A key taken by another transaction comes first: the batch replays, whatever else fell short.
  if (storedKeys === r.length) statements.forEach((statement, i) => statement.check?.(Number(row[`alongside_${i}`])));
  return { storedKeys };
}

export interface Overdraft {
  permanent: bigint;
  temporary: { limit: bigint; expiresAt: Date } | null;
}

/** Sets an account's overdraft (a credit limit), permanent and temporary, answering the account as it now is. */
export async function setOverdraft(db: Queryable, accountId: string, overdraft: Overdraft): Promise<Account | undefined> {
  const result = await db.query<AccountRow>(
    `UPDATE ledger_accounts SET overdraft_limit = $2, temporary_overdraft_limit = $3, temporary_overdraft_expires_at = $4
     WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
    [accountId, overdraft.permanent, overdraft.temporary?.limit ?? null, overdraft.temporary?.expiresAt ?? null],
  );
  return result.rows[0] && toAccount(result.rows[0]);
}

/** Sets the threshold below which the ledger raises `balance.low` for the accounts (see low-balance.ts). */
export async function setLowBalanceThreshold(db: Queryable, accountIds: readonly string[], threshold: bigint | null): Promise<void> {
  await db.query('UPDATE ledger_accounts SET low_balance_threshold = $2 WHERE id = ANY($1::text[])', [accountIds, threshold]);
}

/** Reads an account under a row lock, for a change that must not race the ledger's batches. */
export async function lockAccount(db: Queryable, id: string): Promise<Account | undefined> {
  const result = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = $1 FOR UPDATE`, [id]);
  return result.rows[0] && toAccount(result.rows[0]);
}

/** Accounts whose temporary overdraft has expired by `now` and not been cleared yet. */
export async function findExpiredTemporaryOverdrafts(db: Queryable, now: Date, limit: number): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT id FROM ledger_accounts WHERE temporary_overdraft_expires_at <= $1 ORDER BY temporary_overdraft_expires_at, id LIMIT $2`,
    [now, limit],
  );
  return result.rows.map((row) => row.id);
}

export async function nextTemporaryOverdraftExpiry(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ at: Date | null }>(`SELECT min(temporary_overdraft_expires_at) AS at FROM ledger_accounts`);
  return result.rows[0]?.at ?? undefined;
}

/** Whether any transfer touches these accounts: once one does, their currency is fixed. */
export async function hasTransfers(db: Queryable, accountIds: readonly string[]): Promise<boolean> {
  const result = await db.query(
    `SELECT 1 FROM ledger_transfers WHERE debit_account_id = ANY($1::text[]) OR credit_account_id = ANY($1::text[]) LIMIT 1`,
    [accountIds],
  );
  return result.rows.length > 0;
}

/** What an idempotency key remembers: the request's fingerprint and the transfers it made. */
export interface StoredResult {
  scope: string;
  key: string;
  requestHash: string;
  commandId: string;
  transferIds: string[];
}

/**
 * The stored results of these keys, with the transfers they made, as those are now (a hold
 * posted since shows as posted). Keeping ids rather than a snapshot halves the cost of a key.
 */
export async function findIdempotencyResults(
  db: Queryable,
  keys: readonly IdempotencyKey[],
): Promise<(StoredResult & { transfers: Transfer[] })[]> {
  if (keys.length === 0) return [];
  const result = await db.query<{ scope: string; key: string; request_hash: string; command_id: string; transfer_ids: string[] }>(
    `SELECT i.scope, i.key, i.request_hash, i.command_id, i.transfer_ids FROM idempotency_keys i
     JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON i.scope = k.scope AND i.key = k.key`,
    [keys.map((k) => k.scope), keys.map((k) => k.key)],
  );
  const transfers = new Map((await findTransfers(db, result.rows.flatMap((row) => row.transfer_ids))).map((t) => [t.id, t]));
  return result.rows.map((row) => ({
    scope: row.scope,
    key: row.key,
    requestHash: row.request_hash,
    commandId: row.command_id,
    transferIds: row.transfer_ids,
    transfers: row.transfer_ids.map((id) => transfers.get(id)!),
  }));
}

/** Holds whose timeout has passed and that nobody resolved yet, oldest first. */
export async function findTimedOutHolds(db: Queryable, now: Date, limit: number): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT id FROM ledger_transfers WHERE state = 'pending' AND timeout_at <= $1 ORDER BY timeout_at, id LIMIT $2`,
    [now, limit],
  );
  return result.rows.map((row) => row.id);
}

export async function nextHoldTimeout(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ at: Date | null }>(`SELECT min(timeout_at) AS at FROM ledger_transfers WHERE state = 'pending'`);
  return result.rows[0]?.at ?? undefined;
}

/** Moves an organization's accounts to another currency; only for accounts no transfer touches yet. */
/** Locks every account of an organization, in id order as the ledger's batches lock them. */
export async function lockAccountsOfOrganization(db: Queryable, organizationId: string): Promise<string[]> {
  const result = await db.query<{ id: string }>('SELECT id FROM ledger_accounts WHERE organization_id = $1 ORDER BY id FOR UPDATE', [organizationId]);
  return result.rows.map((row) => row.id);
}

export async function setAccountsCurrency(db: Queryable, organizationId: string, codes: readonly string[], currency: Currency): Promise<void> {
  await db.query('UPDATE ledger_accounts SET currency = $2 WHERE organization_id = $1 AND code = ANY($3::text[])', [organizationId, currency, codes]);
}
