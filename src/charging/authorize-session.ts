import { addSeconds } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import { batchRecord, type LedgerCommand, type Transfer } from '../ledger/types.ts';
import { notTaken } from '../ledger/ledger.ts';
import type { Organization } from '../organizations/organization.ts';
import { isUniqueViolation } from '../store/database.ts';
import { dialledDigits } from '../rating/dialled-number.ts';
import { hasBlocksLongerThanACall, MAX_CALL_SECONDS } from '../rating/price.ts';
import { usageAccountIds, type ChargingDeps } from './charging-deps.ts';
import { newSessions } from './charging-records.ts';
import { DEFAULT_INTERVAL_SECONDS, planGrant, TTL_INTERVALS, UNLIMITED_BUDGET, type ChargingSession } from './session.ts';
import { findSessionByCall, insertSessions } from './session-store.ts';

export interface AuthorizeRequest {
  organization: Organization;
  destination: string;
  /** The switch's id for the call: asking again with it returns the same session. */
  callId: string;
  /** How much time to hold at a time; default: the organization's, else 60 s. */
  intervalSeconds?: number;
  /**
   * Aborted when the switch stops waiting for the answer. A switch that timed out refuses the
   * call, and would never end a session made after that: it would expire and charge its grant.
   */
  signal?: AbortSignal;
}

export type AuthorizeResult = Result<{ session: ChargingSession; created: boolean }, ErrorCode>;

/**
 * May this call start, and for how long? Grants up to one interval of the time the
 * organization's usable credit pays for (connect fee included), and holds its cost. Answers
 * `insufficient_credit` when not even the first second is affordable.
 */
export async function authorizeSession(deps: ChargingDeps, request: AuthorizeRequest): Promise<AuthorizeResult> {
  const { organization } = request;
  // A repeated callId is caught where it costs nothing on the common path: by the hold's
  // idempotency key, the session's unique index, or a refusal, each of which looks the call up.
  const existing = async (): Promise<AuthorizeResult | undefined> => {
    const session = await findSessionByCall(deps.db, organization.id, request.callId);
    if (!session) return undefined;
    // Another call under a callId used before (two switches' counters meeting, say): answered
    // the first call's session, it would be connected at the first call's price.
    if (dialledDigits(session.destination) !== dialledDigits(request.destination)) {
      return failure('idempotency_conflict', `call ${request.callId} was authorized for ${session.destination}; this request is for ${request.destination}: give each call its own callId`);
    }
    return { ok: true, value: { session, created: false } };
  };
  if (organization.status !== 'active') return (await existing()) ?? failure('organization_not_active');
  const now = deps.clock.now();
  const found = await deps.rating.planFor(organization, 'voice', request.destination, now);
  if (!found.ok) return (await existing()) ?? found;
  const { plan, version } = found.value;
  // A deck stored before its blocks were bounded by a day can bill a call more seconds than its
  // usage record holds: the call could then never be ended. The CDR path rejects such lines.
  if (hasBlocksLongerThanACall(plan)) {
    return (await existing()) ?? failure('no_rate', `the price of ${request.destination} has blocks longer than a call (${MAX_CALL_SECONDS} s), from a deck stored before they were bounded: import that deck again`);
  }
  const intervalSeconds = request.intervalSeconds ?? organization.chargingIntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  const ttlSeconds = intervalSeconds * TTL_INTERVALS;
  const id = newId('ses');
  const session = (granted: { grantedTotal: number; costGranted: bigint }, hold: Transfer | null): ChargingSession => ({
    id,
    organizationId: organization.id,
    callId: request.callId,
    service: 'voice',
    destination: request.destination,
    prefix: plan.prefix,
    destinationName: plan.destination,
    rateDeckVersionId: version.id,
    plan,
    intervalSeconds,
    ttlSeconds,
    state: 'active',
    endReason: null,
    usedSeconds: 0,
    grantedSeconds: granted.grantedTotal,
    postedAmount: 0n,
    holdId: hold?.id ?? null,
    holdAmount: granted.costGranted,
    cost: null,
    billedSeconds: null,
    version: 0,
    startedAt: now,
    updatedAt: now,
    expiresAt: addSeconds(now, ttlSeconds),
    endedAt: null,
  });

  const wholeInterval = planGrant(plan, 0, UNLIMITED_BUDGET, intervalSeconds);
  if (wholeInterval.grantedTotal === 0) {
    // No credit could pay for the first second: the deck's disconnect cap buys none (its first
    // block passes it), or the second costs more than any balance can hold. The price is at
    // fault, not the customer's credit: a switch told `insufficient_credit` would ask the
    // customer to top up for a call no top-up connects.
    return (await existing()) ?? failure('no_rate', `the price of a call to ${request.destination} allows no time: its first block costs more than the deck's disconnect cap (max_cost), or than any credit can hold`);
  }
  if (wholeInterval.costGranted === 0n) {
    // A free destination holds nothing.
    const free = session(wholeInterval, null);
    try {
      await insertSessions(deps.db, [free]);
    } catch (error) {
      if (isUniqueViolation(error)) return (await existing())!;
      throw error;
    }
    return { ok: true, value: { session: free, created: true } };
  }

  // The ledger sizes the hold from the credit it finds under its locks: as much of an interval
  // as that pays for. The session follows from the hold, which is one block's cost at least.
  const { spendingId, revenueId } = await usageAccountIds(deps, organization);
  const sessionFor = (hold: Transfer) => session(planGrant(plan, 0, hold.amount, intervalSeconds), hold);
  const command: LedgerCommand = {
    transfers: [
      {
        kind: 'pending',
        debitAccountId: spendingId,
        creditAccountId: revenueId,
        amount: wholeInterval.costGranted,
        sizeTo: (available) => planGrant(plan, 0, available, intervalSeconds).costGranted,
        code: 'usage:voice',
        // No timeout of its own: the session's expiry settles it, charging the time granted. A
        // ledger timeout would release the credit unposted, and the call could never be charged.
        metadata: { sessionId: id, callId: request.callId },
      },
    ],
    idempotencyKey: { scope: 'charging', key: `session:${organization.id}:${request.callId}` },
    records: (outcome) => [batchRecord(newSessions, sessionFor(outcome.transfers[0]!))],
    ...(request.signal ? { signal: request.signal } : {}),
  };
  let result: Awaited<ReturnType<typeof deps.ledger.execute>>;
  try {
    result = await deps.ledger.execute(command);
  } catch (error) {
    // The call's session was made without a hold, and so without the hold's idempotency key: a
    // free call first (a toll-free number), then the same callId to a priced one.
    const other = isUniqueViolation(error) ? await existing() : undefined;
    if (other) return other;
    throw error;
  }
  if (result.ok && !result.value.replayed) {
    const created = sessionFor(result.value.transfers[0]!);
    deps.sessions.remember(created);
    return { ok: true, value: { session: created, created: true } };
  }
  if (notTaken(result)) return failure(result.code, result.message);
  // The same call authorized before, or at the same moment by another request: its session.
  const other = await existing();
  if (other) return other;
  if (!result.ok && result.code === 'insufficient_credit') return failure('insufficient_credit', `usable credit does not pay for the first second of a call to ${request.destination}`);
  return result.ok ? failure('internal_error', `call ${request.callId} was authorized but its session is missing`) : failure(result.code, result.message);
}
