import { createHash } from 'node:crypto';
import type { Clock } from '../clock/clock.ts';
import { failure, type Failure, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Currency } from '../money/index.ts';
import { isRetryableConflict, isUniqueViolation, type Database, type Queryable } from '../store/database.ts';
import { applyCommand, type RejectedCommand } from './apply-command.ts';
import type { RingbillEvent } from '../notifications/events.ts';
import { lowBalanceEvent, lowBalanceEvents } from './low-balance.ts';
import * as store from './ledger-store.ts';
import { isNewTransfer, type Account, type BatchWriter, type CommandOutcome, type IdempotencyKey, type LedgerCommand, type Transfer } from './types.ts';

export type CommandResult = { ok: true; value: CommandOutcome } | RejectedCommand | Failure<'idempotency_conflict' | 'overloaded' | 'request_abandoned'>;

/**
 * The ledger never ran the command: it was too busy to take it, or its caller had gone. Nothing
 * changed, so there is nothing to read again: a caller answers at once, not with more work for a
 * ledger already behind.
 */
export function notTaken(result: CommandResult): result is Failure<'overloaded' | 'request_abandoned'> {
  return !result.ok && (result.code === 'overloaded' || result.code === 'request_abandoned');
}

export interface LedgerOptions {
  /** The most commands one database transaction carries. */
  maxBatch?: number;
  /** The most commands waiting; beyond it the ledger answers `overloaded` rather than queue forever. */
  maxQueue?: number;
  /**
   * The longest a command waits for its batch (ms, default 2,000): past it, it is answered
   * `overloaded` unrun, and while the oldest waiting command has waited that long a new one is
   * answered `overloaded` at once.
   */
  maxQueueWaitMs?: number;
  /** Transactions in flight at once (default 1). PGlite runs one at a time whatever this says. */
  maxConcurrentBatches?: number;
}

interface Queued {
  command: LedgerCommand;
  /** When it was queued (performance.now()). */
  queuedAt: number;
  requestHash: string;
  resolve: (result: CommandResult) => void;
  reject: (error: unknown) => void;
}

/** Another transaction stored one of the batch's idempotency keys first: roll back and replay it. */
class KeyTakenError extends Error {}

/** A batch meets a stored key at most once per concurrent writer; the bound is a guard. */
const MAX_ATTEMPTS = 5;

/**
 * The double-entry ledger. Commands queue here and are written in batches: while a database
 * transaction runs, the commands that arrive wait for the next one, which takes them all (group
 * commit). Each batch locks the holds and accounts it touches, applies the commands in arrival
 * order with the balance rules checked in memory, and writes every transfer, account total and
 * idempotency record in one statement of the same transaction. A hot account is so updated once
 * per batch, not once per transfer.
 */
export class Ledger {
  private readonly queue: Queued[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly maxQueueWaitMs: number;
  private readonly maxConcurrentBatches: number;
  private readonly locking: store.Locking;
  private readonly providerAccounts = new Map<string, Promise<Account>>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    options: LedgerOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxQueue = options.maxQueue ?? 20_000;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? 2000;
    this.locking = db.kind === 'pglite' ? 'serial' : 'row_locks';
    // One at a time measured best on a 2-core machine even against a server (docs/performance.md):
    // more transactions in flight make smaller batches and cost more CPU per posting.
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 1;
  }

  /** Runs one command: its transfers commit together or not at all. Never throws for a business failure. */
  execute(command: LedgerCommand): Promise<CommandResult> {
    const now = performance.now();
    // Arriving faster than batches can take them, commands would wait ever longer: a switch
    // gives up on an authorize after a second or two, and an answer after that holds credit for
    // a call that never started. Refused at once, the caller may retry or fail the call over.
    if (this.queue.length >= this.maxQueue || now - (this.queue[0]?.queuedAt ?? now) > this.maxQueueWaitMs) return Promise.resolve(failure('overloaded'));
    return new Promise<CommandResult>((resolve, reject) => {
      this.queue.push({ command, queuedAt: now, requestHash: hashCommand(command), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Start on the next turn of the event loop, after the requests that arrived with this one
    // have been read: they join the same batch instead of each starting a transaction.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxConcurrentBatches) {
      const now = performance.now();
      const batch = this.queue.splice(0, this.maxBatch).filter((item) => {
        // Its caller has gone while it queued: nobody would learn that it was done.
        if (item.command.signal?.aborted) {
          item.resolve(failure('request_abandoned'));
          return false;
        }
        // Done now, it would be answered after its caller gave up (a switch waits a second or
        // two), and a live call's hold would outlast a call that never started.
        if (now - item.queuedAt > this.maxQueueWaitMs) {
          item.resolve(failure('overloaded'));
          return false;
        }
        return true;
      });
      if (batch.length === 0) continue;
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  /**
   * Runs many independent commands in one transaction of their own, outside the queue, with the
   * caller's own writes for bulk work (a chunk of a CDR file) whose side writes are cheaper done
   * once for all: `before` ahead of the commands (it holds none of their locks yet), `after` with
   * every result. A rejected command does not affect the others. If `before` or `after` throws,
   * nothing is written and the error is thrown.
   */
  async executeAll(
    commands: readonly LedgerCommand[],
    work: { before?: (tx: Queryable) => Promise<void>; after: (tx: Queryable, results: readonly CommandResult[]) => Promise<void> },
  ): Promise<CommandResult[]> {
    const items: Queued[] = commands.map((command) => ({ command, queuedAt: 0, requestHash: hashCommand(command), resolve: () => undefined, reject: () => undefined }));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          await work.before?.(tx);
          const results = items.length === 0 ? [] : await this.writeBatch(tx, items, attempt > 0);
          await work.after(tx, results);
          return results;
        });
      } catch (error) {
        if (attempt + 1 < MAX_ATTEMPTS && (error instanceof KeyTakenError || isRetryableConflict(error))) continue;
        throw error;
      }
    }
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    let results: CommandResult[] | undefined;
    let error: unknown;
    // The first attempt trusts every key to be new, which saves a lookup on the hot path; a key
    // found taken sends the batch round again, this time looking every key up first.
    for (let attempt = 0; attempt < MAX_ATTEMPTS && !results; attempt++) {
      try {
        results = await this.db.transaction((tx) => this.writeBatch(tx, batch, attempt > 0));
      } catch (caught) {
        error = caught;
        if (!(caught instanceof KeyTakenError || isUniqueViolation(caught) || isRetryableConflict(caught))) break;
      }
    }
    if (results) {
      batch.forEach((item, index) => item.resolve(results[index]!));
    } else if (batch.length > 1) {
      // One command's trouble (a deadlock with a foreign writer, a database error) must not fail
      // its neighbours: run each on its own.
      for (const item of batch) await this.runBatch([item]);
    } else {
      batch[0]!.reject(error);
    }
  }

  private async writeBatch(tx: Queryable, batch: readonly Queued[], lookUpKeys: boolean): Promise<CommandResult[]> {
    const now = this.clock.now();
    const results: (CommandResult | undefined)[] = new Array(batch.length);

    // 1. Idempotency: a key stored before replays. (A key used earlier in this batch is settled
    //    in step 4, in arrival order.)
    const stored = new Map<string, Awaited<ReturnType<typeof store.findIdempotencyResults>>[number]>();
    if (lookUpKeys) {
      const keys = batch.flatMap((item) => (item.command.idempotencyKey ? [item.command.idempotencyKey] : []));
      for (const found of await store.findIdempotencyResults(tx, keys)) stored.set(keyString(found), found);
    }
    const toRun: number[] = [];
    batch.forEach((item, index) => {
      const key = item.command.idempotencyKey;
      const found = key && stored.get(keyString(key));
      if (found) results[index] = replay(found, item.requestHash);
      else toRun.push(index);
    });

    // 2. Lock what the commands touch: holds first, then accounts, each in id order, so that
    //    concurrent batches (or processes) always lock in the same order and cannot deadlock.
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
    const accounts = new Map<string, Account>();
    const original = new Map<string, Account>();
    const locked = await store.lockHoldsAndAccounts(tx, [...holdIds], [...accountIds], this.locking);
    for (const transfer of locked.holds) transfers.set(transfer.id, transfer);
    for (const account of locked.accounts) {
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
    //    A command under a key an earlier command of the batch ran under answers from it below;
    //    one under a key whose earlier commands were all refused runs, as it would have alone
    //    (a refusal stores nothing).
    const toStore: store.StoredResult[] = [];
    const rejectedKeys: IdempotencyKey[] = [];
    const ranUnderKey = new Map<string, number>();
    const lowBalance: RingbillEvent[] = [];
    for (const index of toRun) {
      const item = batch[index]!;
      const key = item.command.idempotencyKey;
      if (key && ranUnderKey.has(keyString(key))) continue;
      const context = this.context(now);
      const applied = applyCommand(view, item.command.transfers, context);
      if (!applied.ok) {
        results[index] = applied;
        if (key && !lookUpKeys) rejectedKeys.push(key);
        continue;
      }
      for (const after of applied.accounts) {
        const fell = after.lowBalanceThreshold === null ? undefined : lowBalanceEvent(accounts.get(after.id)!, after, now);
        if (fell) lowBalance.push(fell);
      }
      keep(applied);
      results[index] = { ok: true, value: { commandId: context.commandId, transfers: applied.created, replayed: false } };
      if (key) {
        ranUnderKey.set(keyString(key), index);
        toStore.push({ ...key, requestHash: item.requestHash, commandId: context.commandId, transferIds: applied.created.map((t) => t.id) });
      }
    }

    // 5. Write it all, with the rows the commands' writers add, in one statement. A key already
    //    stored means this batch ran a command that should have replayed: throw, so the
    //    transaction rolls back and the batch reruns.
    const records = new Map<BatchWriter<unknown>, unknown[]>();
    if (lowBalance.length > 0) records.set(lowBalanceEvents, lowBalance);
    for (const index of toRun) {
      const result = results[index];
      if (!result?.ok) continue;
      for (const { writer, row } of batch[index]!.command.records?.(result.value) ?? []) {
        const rows = records.get(writer);
        if (rows) rows.push(row);
        else records.set(writer, [row]);
      }
    }
    const written = await store.writeBatch(tx, { created, resolved: [...resolved.values()], deltas: deltas(original, accounts), locking: this.locking, results: toStore, now }, (param) =>
      [...records].map(([writer, rows]) => writer.statement(rows, param)),
    );
    if (written.storedKeys !== toStore.length) throw new KeyTakenError();
    for (const index of toRun) {
      const result = results[index];
      const afterWrite = batch[index]!.command.afterWrite;
      if (afterWrite && result?.ok) await afterWrite(tx, result.value);
    }

    // 6. A rejected command may be the retry of one that succeeded earlier (its credit is now
    //    spent by itself): if its key is stored, it replays instead. Rejected commands wrote
    //    nothing, so this check can come after the write. (A key this batch ran under came after
    //    them: their refusal stands.)
    if (rejectedKeys.length > 0) {
      for (const found of await store.findIdempotencyResults(tx, rejectedKeys)) stored.set(keyString(found), found);
      batch.forEach((item, index) => {
        const key = item.command.idempotencyKey;
        const found = key && stored.get(keyString(key));
        if (found && results[index] && !results[index].ok && !ranUnderKey.has(keyString(key))) results[index] = replay(found, item.requestHash);
      });
    }

    return batch.map((item, index): CommandResult => {
      const result = results[index];
      if (result) return result;
      const ran = ranUnderKey.get(keyString(item.command.idempotencyKey!))!;
      const outcome = results[ran] as { ok: true; value: CommandOutcome };
      return batch[ran]!.requestHash === item.requestHash ? { ok: true, value: { ...outcome.value, replayed: true } } : conflict();
    });
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
    // An overdraft limits how far debits may pass credits: on an account whose debits are not
    // limited it would be shown and never applied.
    if ((input.overdraftLimit ?? 0n) > 0n && !input.debitsMustNotExceedCredits) return failure('invalid_input', 'overdraftLimit applies only to an account whose debits must not exceed its credits (debitsMustNotExceedCredits: true)');
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

  /**
   * The provider's own account with this code and currency, created on first use. Its id never
   * changes, so it is looked up once per process (its totals in the answer may be stale: callers
   * use it as the other side of a transfer, never for its balance).
   */
  providerAccount(code: string, currency: Currency): Promise<Account> {
    const key = `${code}\u0000${currency}`;
    let found = this.providerAccounts.get(key);
    if (!found) {
      found = this.findOrCreateProviderAccount(code, currency);
      found.catch(() => this.providerAccounts.delete(key));
      this.providerAccounts.set(key, found);
    }
    return found;
  }

  private async findOrCreateProviderAccount(code: string, currency: Currency): Promise<Account> {
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

function replay(stored: store.StoredResult & { transfers: Transfer[] }, requestHash: string): CommandResult {
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

/**
 * A stable fingerprint of what a command asks, so that a reused key with other content is
 * caught: its transfers, and the operation that asked for them, so that a key reused on another
 * route (one transfer, then the same one as a linked command) is another request too, not a
 * replay in the other route's shape.
 */
function hashCommand(command: LedgerCommand): string {
  const canonical = JSON.stringify(command.transfers, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return value;
  });
  return createHash('sha256')
    .update(command.operation ? `${command.operation}\n` : '')
    .update(canonical)
    .digest('hex');
}
