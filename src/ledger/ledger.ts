import { createHash } from 'node:crypto';
import type { Clock } from '../clock/clock.ts';
import { failure, type Failure, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Currency } from '../money/index.ts';
import { isRetryableConflict, isUniqueViolation, type Database, type Queryable } from '../store/database.ts';
import { applyCommand, type RejectedCommand } from './apply-command.ts';
import * as store from './ledger-store.ts';
import { isNewTransfer, type Account, type CommandOutcome, type IdempotencyKey, type LedgerCommand, type LedgerRequest, type Transfer } from './types.ts';

export type CommandResult = { ok: true; value: CommandOutcome } | RejectedCommand | Failure<'idempotency_conflict' | 'overloaded'>;

export interface LedgerOptions {
  /** The most commands one database transaction carries. */
  maxBatch?: number;
  /** The most commands waiting; beyond it the ledger answers `overloaded` rather than queue forever. */
  maxQueue?: number;
}

interface Queued {
  command: LedgerCommand;
  requestHash: string;
  resolve: (result: CommandResult) => void;
  reject: (error: unknown) => void;
}

/**
 * The double-entry ledger. Commands queue here and are written in batches: while one database
 * transaction runs, the commands that arrive wait for the next one, which takes them all (group
 * commit). Each batch locks the holds and accounts it touches, applies the commands in arrival
 * order with the balance rules checked in memory, and writes every transfer, account total and
 * idempotency record in the same transaction. A hot account is so updated once per batch, not
 * once per transfer.
 */
export class Ledger {
  private readonly queue: Queued[] = [];
  private draining = false;
  private readonly maxBatch: number;
  private readonly maxQueue: number;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    options: LedgerOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxQueue = options.maxQueue ?? 20_000;
  }

  /** Runs one command: its transfers commit together or not at all. Never throws for a business failure. */
  execute(command: LedgerCommand): Promise<CommandResult> {
    if (this.queue.length >= this.maxQueue) return Promise.resolve(failure('overloaded'));
    return new Promise<CommandResult>((resolve, reject) => {
      this.queue.push({ command, requestHash: hashRequests(command.transfers), resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.runBatch(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    try {
      const results = await this.db.transaction((tx) => this.writeBatch(tx, batch));
      batch.forEach((item, index) => item.resolve(results[index]!));
    } catch (error) {
      if (batch.length > 1) {
        // One command's conflict (another process wrote the same idempotency key, a deadlock
        // with a foreign writer) must not fail its neighbours: run each on its own.
        for (const item of batch) await this.runBatch([item]);
        return;
      }
      const [item] = batch as [Queued];
      if (isUniqueViolation(error) || isRetryableConflict(error)) {
        // Another process committed the same key between our read and our write; the retry
        // sees its result and replays it. Conflicts resolve in one retry; the bound is a guard.
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            const [result] = await this.db.transaction((tx) => this.writeBatch(tx, [item]));
            item.resolve(result!);
            return;
          } catch (retryError) {
            if (!(isUniqueViolation(retryError) || isRetryableConflict(retryError))) {
              item.reject(retryError);
              return;
            }
          }
        }
      }
      item.reject(error);
    }
  }

  private async writeBatch(tx: Queryable, batch: readonly Queued[]): Promise<CommandResult[]> {
    const now = this.clock.now();
    const results: (CommandResult | undefined)[] = new Array(batch.length);

    // 1. Idempotency: a key seen before (in the database or earlier in this batch) replays.
    const keyed = batch.filter((item) => item.command.idempotencyKey).map((item) => item.command.idempotencyKey!);
    const seen = new Map<string, store.StoredResult>();
    for (const stored of await store.findIdempotencyResults(tx, keyed)) seen.set(keyString(stored), stored);
    const toRun: number[] = [];
    const firstInBatch = new Map<string, number>();
    batch.forEach((item, index) => {
      const key = item.command.idempotencyKey;
      if (!key) return toRun.push(index);
      const stored = seen.get(keyString(key));
      if (stored) {
        results[index] = replay(stored, item.requestHash);
        return;
      }
      const earlier = firstInBatch.get(keyString(key));
      if (earlier === undefined) {
        firstInBatch.set(keyString(key), index);
        toRun.push(index);
      }
    });

    // 2. Lock what the commands touch: holds first, then accounts, each in id order.
    const holdIds = new Set<string>();
    const accountIds = new Set<string>();
    for (const index of toRun) {
      for (const request of batch[index]!.command.transfers) {
        if (isNewTransfer(request)) {
          accountIds.add(request.debitAccountId);
          accountIds.add(request.creditAccountId);
        } else {
          holdIds.add(request.pendingId);
        }
      }
    }
    const transfers = new Map<string, Transfer>();
    for (const transfer of await store.lockTransfers(tx, [...holdIds])) {
      transfers.set(transfer.id, transfer);
      accountIds.add(transfer.debitAccountId);
      accountIds.add(transfer.creditAccountId);
    }
    const accounts = new Map<string, Account>();
    const original = new Map<string, Account>();
    for (const account of await store.lockAccounts(tx, [...accountIds])) {
      accounts.set(account.id, account);
      original.set(account.id, account);
    }

    const created: Transfer[] = [];
    const resolved = new Map<string, Transfer>();
    const keep = (applied: { created: Transfer[]; resolved: Transfer[]; accounts: Account[] }) => {
      created.push(...applied.created);
      for (const hold of applied.resolved) {
        resolved.set(hold.id, hold);
        transfers.set(hold.id, hold);
      }
      for (const account of applied.accounts) accounts.set(account.id, account);
    };
    const view = { account: (id: string) => accounts.get(id), transfer: (id: string) => transfers.get(id) };

    // 3. A hold past its timeout is expired before anything else may touch it, so that a late
    //    post is refused and its credit released in the same transaction.
    for (const hold of [...transfers.values()]) {
      if (hold.state === 'pending' && hold.timeoutAt !== null && hold.timeoutAt.getTime() <= now.getTime()) {
        const expired = applyCommand(view, [{ kind: 'expire_pending', pendingId: hold.id }], this.context(now));
        if (expired.ok) keep(expired);
      }
    }

    // 4. Apply each command in arrival order; a rejected one leaves no trace.
    const stored: store.StoredResult[] = [];
    for (const index of toRun) {
      const item = batch[index]!;
      const context = this.context(now);
      const applied = applyCommand(view, item.command.transfers, context);
      if (!applied.ok) {
        results[index] = applied;
        continue;
      }
      keep(applied);
      results[index] = { ok: true, value: { commandId: context.commandId, transfers: applied.created, replayed: false } };
      const key = item.command.idempotencyKey;
      if (key) stored.push({ ...key, requestHash: item.requestHash, commandId: context.commandId, transfers: applied.created });
    }

    // Duplicates of a key first seen in this batch answer with that first command's outcome.
    batch.forEach((item, index) => {
      if (results[index]) return;
      const key = item.command.idempotencyKey!;
      const first = results[firstInBatch.get(keyString(key))!]!;
      const firstHash = batch[firstInBatch.get(keyString(key))!]!.requestHash;
      if (firstHash !== item.requestHash) results[index] = conflict();
      else results[index] = first.ok ? { ok: true, value: { ...first.value, replayed: true } } : first;
    });

    // 5. Write it all.
    await store.insertTransfers(tx, created);
    await store.resolveHolds(tx, [...resolved.values()]);
    await store.applyAccountDeltas(tx, deltas(original, accounts));
    await store.insertIdempotencyResults(tx, stored, now);
    return results as CommandResult[];
  }

  private context(now: Date) {
    return { now, commandId: newId('cmd'), newTransferId: () => newId('txf') };
  }

  /** Expires up to `limit` holds whose timeout has passed; answers how many it expired. */
  async expireTimedOutHolds(limit = 1000): Promise<number> {
    const ids = await store.findTimedOutHolds(this.db, this.clock.now(), limit);
    // Locking a timed-out hold expires it (step 3 of a batch), so the command itself then finds
    // the hold expired: that answer is the success here, as it is when another process won.
    const results = await Promise.all(ids.map((id) => this.execute({ transfers: [{ kind: 'expire_pending', pendingId: id }] })));
    return results.filter((result) => result.ok || result.code === 'hold_expired').length;
  }

  nextHoldTimeout(): Promise<Date | undefined> {
    return store.nextHoldTimeout(this.db);
  }

  async createAccount(input: {
    organizationId: string | null;
    code: string;
    currency: Currency;
    debitsMustNotExceedCredits?: boolean;
    creditsMustNotExceedDebits?: boolean;
    overdraftLimit?: bigint;
  }, db: Queryable = this.db): Promise<Result<Account, 'account_exists' | 'invalid_input'>> {
    if ((input.overdraftLimit ?? 0n) < 0n) return failure('invalid_input', 'overdraftLimit must not be negative');
    const account = await store.insertAccount(db, {
      id: newId('acc'),
      organizationId: input.organizationId,
      code: input.code,
      currency: input.currency,
      debitsMustNotExceedCredits: input.debitsMustNotExceedCredits ?? false,
      creditsMustNotExceedDebits: input.creditsMustNotExceedDebits ?? false,
      overdraftLimit: input.overdraftLimit ?? 0n,
      createdAt: this.clock.now(),
    });
    if (!account) return failure('account_exists', `${input.code} ${input.currency} already exists`);
    return { ok: true, value: account };
  }

  /** The provider's own account with this code and currency, created on first use. */
  async providerAccount(code: string, currency: Currency): Promise<Account> {
    const existing = await store.findAccountByCode(this.db, null, code, currency);
    if (existing) return existing;
    const created = await this.createAccount({ organizationId: null, code, currency });
    if (created.ok) return created.value;
    // Another request created it between our read and our insert.
    return (await store.findAccountByCode(this.db, null, code, currency))!;
  }

  getAccount(id: string): Promise<Account | undefined> {
    return store.findAccount(this.db, id);
  }

  getTransfer(id: string): Promise<Transfer | undefined> {
    return store.findTransfer(this.db, id);
  }

  listAccounts(filter: store.AccountFilter): Promise<Account[]> {
    return store.listAccounts(this.db, filter);
  }

  listTransfers(accountIds: readonly string[], page: { before?: string; limit: number }): Promise<Transfer[]> {
    return store.listTransfersOfAccounts(this.db, accountIds, page);
  }
}

function keyString(key: IdempotencyKey): string {
  return `${key.scope}\u0000${key.key}`;
}

function conflict(): Failure<'idempotency_conflict'> {
  return failure('idempotency_conflict');
}

function replay(stored: store.StoredResult, requestHash: string): CommandResult {
  if (stored.requestHash !== requestHash) return conflict();
  return { ok: true, value: { commandId: stored.commandId, transfers: stored.transfers, replayed: true } };
}

function deltas(original: ReadonlyMap<string, Account>, current: ReadonlyMap<string, Account>): store.AccountDelta[] {
  const changes: store.AccountDelta[] = [];
  for (const [id, now] of current) {
    const before = original.get(id)!;
    const delta = {
      id,
      debitsPosted: now.debitsPosted - before.debitsPosted,
      creditsPosted: now.creditsPosted - before.creditsPosted,
      debitsPending: now.debitsPending - before.debitsPending,
      creditsPending: now.creditsPending - before.creditsPending,
    };
    if (delta.debitsPosted || delta.creditsPosted || delta.debitsPending || delta.creditsPending) changes.push(delta);
  }
  return changes;
}

/** A stable fingerprint of what a command asks, so a reused key with other content is caught. */
export function hashRequests(requests: readonly LedgerRequest[]): string {
  const canonical = JSON.stringify(requests, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex');
}
