import type { Currency } from '../money/index.ts';
import type { Queryable, SqlParam } from '../store/database.ts';

/** A ledger account's running totals and its balance rules, as the database holds them. */
export interface Account {
  readonly id: string;
  /** Null for the provider's own accounts (revenue, bank, rounding, ...). */
  readonly organizationId: string | null;
  readonly code: string;
  readonly currency: Currency;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
  /** A spending account: posted plus pending debits may not exceed posted credits plus the overdraft. */
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  /** How far debits may go beyond credits (a credit limit); only with debitsMustNotExceedCredits. */
  readonly overdraftLimit: bigint;
  /** A temporary overdraft that replaces `overdraftLimit` until it expires (a temporary credit limit). */
  readonly temporaryOverdraftLimit: bigint | null;
  readonly temporaryOverdraftExpiresAt: Date | null;
  /**
   * A change that takes the available balance from above this to at or below it raises
   * `balance.low`, in its own transaction (an organization's low-credit threshold, on its
   * spending accounts). Null: never.
   */
  readonly lowBalanceThreshold: bigint | null;
  readonly createdAt: Date;
}

export type TransferKind = 'posted' | 'pending' | 'post_pending' | 'void_pending' | 'expire_pending';
export type TransferState = 'posted' | 'pending' | 'voided' | 'expired';

/** A row of the ledger. Its money never changes; only a hold's state moves, once. */
export interface Transfer {
  readonly id: string;
  readonly kind: TransferKind;
  readonly state: TransferState;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly currency: Currency;
  /** For post/void/expire: the hold this transfer resolved. */
  readonly pendingId: string | null;
  /** For a hold: when it expires by itself. */
  readonly timeoutAt: Date | null;
  /** For a hold: when it was posted, voided or expired. */
  readonly resolvedAt: Date | null;
  readonly code: string;
  readonly commandId: string;
  readonly metadata: Record<string, unknown> | null;
  readonly createdAt: Date;
}

/** A new transfer: posted at once, or pending (a hold) until posted, voided or timed out. */
export interface NewTransferRequest {
  readonly kind: 'posted' | 'pending';
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly code: string;
  /** Holds only: released by itself after this many seconds unless posted or voided. */
  readonly timeoutSeconds?: number;
  readonly metadata?: Record<string, unknown>;
  /**
   * Holds only: sizes the hold from what the debit account can still spend, as the ledger sees
   * it under its locks when it applies the command, so that a caller can hold "as much of
   * `amount` as credit allows" without reading the balance first and racing other holds. Answers
   * the amount to hold, at most `amount`; nothing (zero) refuses with `insufficient_credit`.
   * In-process callers only: it is not part of the request an idempotency key fingerprints.
   */
  readonly sizeTo?: (available: bigint) => bigint;
}

export interface PostPendingRequest {
  readonly kind: 'post_pending';
  readonly pendingId: string;
  /** Defaults to the whole hold; less posts part and returns the rest. */
  readonly amount?: bigint;
  readonly metadata?: Record<string, unknown>;
}

export interface VoidPendingRequest {
  readonly kind: 'void_pending';
  readonly pendingId: string;
  readonly metadata?: Record<string, unknown>;
}

/** What a caller asks the ledger to do, one transfer at a time. */
export type TransferRequest = NewTransferRequest | PostPendingRequest | VoidPendingRequest;

/**
 * The system's own request to release a hold whose timeout has passed. Anyone may send it,
 * but it only succeeds once the hold has timed out.
 */
export interface ExpireRequest {
  readonly kind: 'expire_pending';
  readonly pendingId: string;
}

export type LedgerRequest = TransferRequest | ExpireRequest;

/** Idempotency keys are unique within a scope: an API key's owner, or a system process. */
export interface IdempotencyKey {
  readonly scope: string;
  readonly key: string;
}

/**
 * One money-moving command: its transfers commit all together or not at all (linked).
 * `request` is what the caller sent; the same key with a different request is a conflict.
 */
export interface LedgerCommand {
  readonly transfers: readonly LedgerRequest[];
  readonly idempotencyKey?: IdempotencyKey;
  /**
   * Writes that belong with the transfers (an audit entry, a charge row), run in the same
   * transaction once the command is applied, and not at all when it is rejected or replayed.
   */
  readonly afterWrite?: (tx: Queryable, outcome: CommandOutcome) => Promise<void>;
  /**
   * Rows that belong with the transfers, like `afterWrite`, but written together with the rows
   * of every other command in the batch, inside the batch's own write statement: no statement
   * of their own per command, which is what keeps a busy charging path from queueing behind its
   * own inserts. Asked for on every attempt that runs the command, so it must not have effects.
   */
  readonly records?: (outcome: CommandOutcome) => readonly BatchRecord[];
  /**
   * Aborted when whoever asked stopped waiting (a switch whose HTTP client timed out): a command
   * still queued then is dropped, unwritten, and answers `request_abandoned`.
   */
  readonly signal?: AbortSignal;
  /** What asked for the transfers (an API route), when it shares idempotency keys with others: part of the request's fingerprint. */
  readonly operation?: string;
}

/**
 * A data-modifying statement (INSERT / UPDATE) the ledger runs inside its own write statement,
 * as one more common table expression: a batch's transfers and the rows that belong with them
 * then cost one round trip together.
 */
export interface BatchStatement {
  readonly sql: string;
  /**
   * With a check, the statement ends in RETURNING and the check gets how many rows came back;
   * throwing rolls the batch back (the ledger then runs its commands one by one, so the error
   * reaches the command whose row caused it).
   */
  readonly check?: (rows: number) => void;
}

/**
 * Writes the rows a whole batch produced for it, one statement for all the batch's commands.
 * Its statement sees the database as it was before the batch's writes.
 */
export interface BatchWriter<Row> {
  statement(rows: readonly Row[], param: SqlParam): BatchStatement;
}

export interface BatchRecord {
  readonly writer: BatchWriter<unknown>;
  readonly row: unknown;
}

/** A row for a batch writer; the writer is also what groups the rows of a batch. */
export function batchRecord<Row>(writer: BatchWriter<Row>, row: Row): BatchRecord {
  return { writer: writer as BatchWriter<unknown>, row };
}

export interface CommandOutcome {
  readonly commandId: string;
  readonly transfers: readonly Transfer[];
  /** True when this is the stored result of an earlier command with the same key. */
  readonly replayed: boolean;
}

export function isNewTransfer(request: LedgerRequest): request is NewTransferRequest {
  return request.kind === 'posted' || request.kind === 'pending';
}
