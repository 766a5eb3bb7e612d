import { failure, type Failure } from '../errors.ts';
import { addSeconds } from '../clock/clock.ts';
import { formatMicros, MAX_MICROS } from '../money/index.ts';
import { isNewTransfer, type Account, type ExpireRequest, type LedgerRequest, type NewTransferRequest, type PostPendingRequest, type Transfer, type VoidPendingRequest } from './types.ts';

/** Accounts and transfers as the command sees them: loaded and locked by the store. */
export interface LedgerView {
  account(id: string): Account | undefined;
  transfer(id: string): Transfer | undefined;
}

export interface CommandContext {
  readonly now: Date;
  readonly commandId: string;
  readonly newTransferId: () => string;
}

export interface AppliedCommand {
  readonly ok: true;
  /** New rows, in request order. */
  readonly created: Transfer[];
  /** Holds whose state this command moved. */
  readonly resolved: Transfer[];
  /** Every account the command touched, with its new totals. */
  readonly accounts: Account[];
}

export interface RejectedCommand extends Failure {
  /** Which request of the command failed; the others were not applied either. */
  readonly index: number;
}

/** The most transfers one linked command may carry. */
export const MAX_TRANSFERS_PER_COMMAND = 64;

/**
 * Applies one command's transfers in order, all or nothing, without any I/O: the pure core of
 * the ledger. Each request sees the effect of the ones before it. Balance rules are checked
 * here; the store has locked every account involved, so the result cannot be raced.
 */
export function applyCommand(view: LedgerView, requests: readonly LedgerRequest[], context: CommandContext): AppliedCommand | RejectedCommand {
  if (requests.length === 0 || requests.length > MAX_TRANSFERS_PER_COMMAND) {
    return { ...failure('invalid_input', `a command carries 1 to ${MAX_TRANSFERS_PER_COMMAND} transfers`), index: 0 };
  }
  const accounts = new Map<string, Account>();
  const holds = new Map<string, Transfer>();
  const created: Transfer[] = [];
  const account = (id: string) => accounts.get(id) ?? view.account(id);
  const transfer = (id: string) => holds.get(id) ?? view.transfer(id);

  for (const [index, request] of requests.entries()) {
    const step = isNewTransfer(request) ? createTransfer(request, account, context) : resolveHold(request, account, transfer, context);
    if (!step.ok) return { ...step, index };
    const full = step.accounts.find(beyondLedger);
    if (full) return { ...failure('amount_out_of_range', `account ${full.id}'s totals would pass what the ledger holds (${MAX_MICROS} micro-units)`), index };
    created.push(step.transfer);
    for (const changed of step.accounts) accounts.set(changed.id, changed);
    if (step.hold) holds.set(step.hold.id, step.hold);
  }
  return { ok: true, created, resolved: [...holds.values()], accounts: [...accounts.values()] };
}

type Step = { ok: true; transfer: Transfer; accounts: Account[]; hold?: Transfer } | Failure;

/** An account whose totals a BIGINT column can no longer hold: refused here, not by the database as a 500. */
function beyondLedger(account: Account): boolean {
  return account.debitsPosted + account.debitsPending > MAX_MICROS || account.creditsPosted + account.creditsPending > MAX_MICROS;
}

function createTransfer(
  request: NewTransferRequest,
  account: (id: string) => Account | undefined,
  context: CommandContext,
): Step {
  if (request.amount <= 0n) return failure('invalid_amount', 'the amount must be greater than zero');
  if (request.debitAccountId === request.creditAccountId) return failure('same_account');
  const debit = account(request.debitAccountId);
  if (!debit) return failure('account_not_found', `no account ${request.debitAccountId}`);
  const credit = account(request.creditAccountId);
  if (!credit) return failure('account_not_found', `no account ${request.creditAccountId}`);
  if (debit.currency !== credit.currency) {
    return failure('currency_mismatch', `${debit.id} is in ${debit.currency}, ${credit.id} in ${credit.currency}`);
  }
  if (request.kind === 'posted' && request.timeoutSeconds !== undefined) {
    return failure('invalid_input', 'only a hold (a pending transfer) can have a timeout');
  }
  if (request.timeoutSeconds !== undefined && !(Number.isInteger(request.timeoutSeconds) && request.timeoutSeconds > 0)) {
    return failure('invalid_input', 'timeoutSeconds must be a whole number of seconds above zero');
  }
  if (request.sizeTo && request.kind !== 'pending') return failure('invalid_input', 'only a hold can be sized from the available balance');
  const amount = request.sizeTo ? minimum(request.amount, request.sizeTo(availableBalance(debit, context.now))) : request.amount;
  if (amount <= 0n || !mayDebit(debit, amount, context.now)) return failure('insufficient_credit', `account ${debit.id} does not have enough usable credit`);
  if (!mayCredit(credit, amount)) return failure('exceeds_debits', `account ${credit.id} may not be credited beyond its debits`);

  const pending = request.kind === 'pending';
  const transfer: Transfer = {
    id: context.newTransferId(),
    kind: request.kind,
    state: pending ? 'pending' : 'posted',
    debitAccountId: debit.id,
    creditAccountId: credit.id,
    amount,
    currency: debit.currency,
    pendingId: null,
    timeoutAt: request.timeoutSeconds === undefined ? null : addSeconds(context.now, request.timeoutSeconds),
    resolvedAt: null,
    code: request.code,
    commandId: context.commandId,
    metadata: request.metadata ?? null,
    createdAt: context.now,
  };
  return {
    ok: true,
    transfer,
    accounts: pending
      ? [
          { ...debit, debitsPending: debit.debitsPending + amount },
          { ...credit, creditsPending: credit.creditsPending + amount },
        ]
      : [
          { ...debit, debitsPosted: debit.debitsPosted + amount },
          { ...credit, creditsPosted: credit.creditsPosted + amount },
        ],
  };
}

type ResolveRequest = PostPendingRequest | VoidPendingRequest | ExpireRequest;

/** Post, void or expire a hold: its pending amounts go away and, for a post, the posted part lands. */
function resolveHold(
  request: ResolveRequest,
  account: (id: string) => Account | undefined,
  transfer: (id: string) => Transfer | undefined,
  context: CommandContext,
): Step {
  const hold = transfer(request.pendingId);
  if (!hold) return failure('transfer_not_found', `no transfer ${request.pendingId}`);
  if (hold.kind !== 'pending') return failure('transfer_not_pending', `transfer ${hold.id} is not a hold`);
  if (hold.state === 'posted') return failure('hold_already_posted', `hold ${hold.id} was already posted`);
  if (hold.state === 'voided') return failure('hold_already_voided', `hold ${hold.id} was already voided`);
  if (hold.state === 'expired') return failure('hold_expired', `hold ${hold.id} expired at ${hold.resolvedAt?.toISOString() ?? 'its timeout'}`);
  const expiring = request.kind === 'expire_pending';
  if (!expiring && hold.timeoutAt !== null && hold.timeoutAt.getTime() <= context.now.getTime()) {
    return failure('hold_expired', `hold ${hold.id} expired at ${hold.timeoutAt.toISOString()}`);
  }
  if (expiring && (hold.timeoutAt === null || hold.timeoutAt.getTime() > context.now.getTime())) {
    return failure('transfer_not_pending', `hold ${hold.id} has not timed out`);
  }

  const posted = request.kind === 'post_pending' ? (request.amount ?? hold.amount) : 0n;
  if (posted < 0n) return failure('invalid_amount', 'the amount to post must not be negative');
  if (posted > hold.amount) return failure('post_exceeds_hold', `hold ${hold.id} holds ${formatMicros(hold.amount, hold.currency)} ${hold.currency}; cannot post ${formatMicros(posted, hold.currency)}`);

  const debit = account(hold.debitAccountId);
  const credit = account(hold.creditAccountId);
  if (!debit || !credit) throw new Error(`hold ${hold.id} points at a missing account`);

  // An expired hold is released at the instant it timed out, whenever the job got to it.
  const resolvedAt = expiring ? hold.timeoutAt! : context.now;
  const state = request.kind === 'post_pending' ? 'posted' : request.kind === 'void_pending' ? 'voided' : 'expired';
  const resolution: Transfer = {
    id: context.newTransferId(),
    kind: request.kind,
    state,
    debitAccountId: hold.debitAccountId,
    creditAccountId: hold.creditAccountId,
    amount: request.kind === 'post_pending' ? posted : hold.amount,
    currency: hold.currency,
    pendingId: hold.id,
    timeoutAt: null,
    resolvedAt: null,
    code: hold.code,
    commandId: context.commandId,
    metadata: ('metadata' in request ? request.metadata : undefined) ?? null,
    createdAt: resolvedAt,
  };
  return {
    ok: true,
    transfer: resolution,
    hold: { ...hold, state, resolvedAt },
    accounts: [
      { ...debit, debitsPending: debit.debitsPending - hold.amount, debitsPosted: debit.debitsPosted + posted },
      { ...credit, creditsPending: credit.creditsPending - hold.amount, creditsPosted: credit.creditsPosted + posted },
    ],
  };
}

/** The overdraft in force at `now`: a temporary one until the instant it expires, then the permanent one. */
export function effectiveOverdraft(account: Account, now: Date): bigint {
  const until = account.temporaryOverdraftExpiresAt;
  if (account.temporaryOverdraftLimit !== null && until !== null && now.getTime() < until.getTime()) return account.temporaryOverdraftLimit;
  return account.overdraftLimit;
}

/** The spending rule: posted and pending debits stay within posted credits plus the overdraft. */
export function mayDebit(account: Account, amount: bigint, now: Date): boolean {
  if (!account.debitsMustNotExceedCredits) return true;
  return account.debitsPosted + account.debitsPending + amount <= account.creditsPosted + effectiveOverdraft(account, now);
}

export function mayCredit(account: Account, amount: bigint): boolean {
  if (!account.creditsMustNotExceedDebits) return true;
  return account.creditsPosted + account.creditsPending + amount <= account.debitsPosted;
}

/** What the account can still spend at `now`: credits + overdraft in force - posted and pending debits. */
export function availableBalance(account: Account, now: Date): bigint {
  return account.creditsPosted + effectiveOverdraft(account, now) - account.debitsPosted - account.debitsPending;
}

function minimum(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
