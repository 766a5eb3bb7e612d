import { addSeconds } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { batchRecord, type CommandOutcome, type LedgerRequest, type Transfer } from '../ledger/types.ts';
import { notTaken } from '../ledger/ledger.ts';
import { priceCall } from '../rating/price.ts';
import { timeZoneOf, usageAccountIds, usageWithCharge, type ChargingDeps } from './charging-deps.ts';
import { SessionMoved, sessionSteps, usageRecords, writeUsage } from './charging-records.ts';
import { planGrant, UNLIMITED_BUDGET, type ChargingSession } from './session.ts';
import { findSession, saveSessions } from './session-store.ts';

const ATTEMPTS = 5;

/** A step the switch reports: the call's cumulative seconds; an organization key's own organization. */
interface StepInput {
  sessionId: string;
  usedSeconds: number;
  organizationId?: string;
}

interface TerminateInput extends StepInput {
  reason?: 'terminated' | 'expired';
}

/** Seconds that may be charged: never less than already reported, never more than granted. */
function clampUsed(session: ChargingSession, usedSeconds: number): number {
  return Math.min(Math.max(usedSeconds, session.usedSeconds), session.grantedSeconds);
}

/**
 * The switch reports the call's cumulative seconds: what they cost is posted, and the next
 * interval is held, as far as credit goes. Answers the session with its new grant; a grant no
 * longer than the seconds used means: disconnect now.
 */
export function updateSession(deps: ChargingDeps, input: StepInput): Promise<Result<ChargingSession, ErrorCode>> {
  return deps.sessions.inTurn(input.sessionId, () => update(deps, input));
}

async function update(deps: ChargingDeps, input: StepInput): Promise<Result<ChargingSession, ErrorCode>> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { session, cached } = await currentSession(deps, input.sessionId, attempt);
    if (!session || (input.organizationId && session.organizationId !== input.organizationId)) return failure('session_not_found');
    if (session.state === 'ended') return failure('session_ended', `session ${session.id} ended (${session.endReason})`);
    const organization = (await deps.organizations.get(session.organizationId))!.organization;
    const now = deps.clock.now();
    const used = clampUsed(session, input.usedSeconds);
    const { plan, intervalSeconds } = session;
    // The next interval as if credit were no limit: what the new hold may be at most.
    const whole = planGrant(plan, used, UNLIMITED_BUDGET, intervalSeconds);
    const { costUsed } = whole;
    const next = (hold: Transfer | undefined, grantedSeconds: number): ChargingSession => ({
      ...session,
      usedSeconds: used,
      grantedSeconds,
      postedAmount: costUsed,
      holdId: hold?.id ?? null,
      holdAmount: hold?.amount ?? 0n,
      version: session.version + 1,
      updatedAt: now,
      expiresAt: addSeconds(now, session.ttlSeconds),
    });
    // What the new hold pays for beyond the seconds used; without one, the seconds already paid
    // for (the rest of the current block), or the whole interval where it is free.
    const granted = (hold: Transfer | undefined) => planGrant(plan, used, costUsed + (hold?.amount ?? 0n), intervalSeconds).grantedTotal;

    const post: LedgerRequest[] = session.holdId ? [{ kind: 'post_pending', pendingId: session.holdId, amount: costUsed - session.postedAmount }] : [];
    const hold: LedgerRequest[] = [];
    // A suspended or closed organization's calls get no more time than is paid for: the seconds
    // used are posted and the call ends with its block (a free call, such as an emergency
    // number, holds nothing and goes on).
    if (whole.costGranted > costUsed && organization.status === 'active') {
      const { spendingId, revenueId } = await usageAccountIds(deps, organization);
      hold.push({
        kind: 'pending',
        debitAccountId: spendingId,
        creditAccountId: revenueId,
        amount: whole.costGranted - costUsed,
        // Sized by the ledger after the post above, from what is left to spend.
        sizeTo: (available) => planGrant(plan, used, costUsed + available, intervalSeconds).costGranted - costUsed,
        code: 'usage:voice',
        metadata: { sessionId: session.id, callId: session.callId },
      });
    }
    const stepped = (outcome: CommandOutcome) => {
      const held = outcome.transfers.find((transfer) => transfer.kind === 'pending');
      return next(held, granted(held));
    };
    const execute = (transfers: LedgerRequest[]) =>
      deps.ledger.execute({
        transfers,
        idempotencyKey: { scope: 'charging', key: `session:${session.id}:v${session.version}` },
        records: (outcome) => [batchRecord(sessionSteps, { session: stepped(outcome), expectedVersion: session.version })],
      });
    try {
      let outcome = post.length + hold.length > 0 ? await execute([...post, ...hold]) : undefined;
      if (outcome && !outcome.ok && outcome.code === 'insufficient_credit' && hold.length > 0 && outcome.index === post.length) {
        // Not one more block is affordable: post what was used, and grant no more.
        outcome = post.length > 0 ? await execute(post) : undefined;
      }
      if (!outcome) {
        // No hold to post and none to place: only the session moves.
        const updated = next(undefined, granted(undefined));
        if ((await saveSessions(deps.db, [{ session: updated, expectedVersion: session.version }])) !== 1) throw new SessionMoved();
        deps.sessions.remember(updated);
        return { ok: true, value: updated };
      }
      if (outcome.ok && !outcome.value.replayed) {
        const updated = stepped(outcome.value);
        deps.sessions.remember(updated);
        return { ok: true, value: updated };
      }
      if (notTaken(outcome)) return failure(outcome.code, outcome.message);
      // A replay is a step someone else took from the same version, and a refusal of a step from
      // a cached session may come from its being stale: read the session again.
      deps.sessions.forget(session.id);
      if (cached || outcome.ok || outcome.code === 'insufficient_credit' || outcome.code === 'idempotency_conflict') continue;
      return failure(outcome.code, outcome.message);
    } catch (error) {
      deps.sessions.forget(session.id);
      if (error instanceof SessionMoved) continue;
      throw error;
    }
  }
  return failure('internal_error', `session ${input.sessionId} kept changing while it was updated`);
}

/**
 * Ends a call: posts the exact cost of the seconds used (within the grant), releases the rest of
 * the hold, and records the usage. Idempotent: ending an ended session answers it as it ended.
 */
export function terminateSession(
  deps: ChargingDeps,
  input: TerminateInput,
): Promise<Result<ChargingSession, ErrorCode>> {
  return deps.sessions.inTurn(input.sessionId, () => terminate(deps, input));
}

async function terminate(
  deps: ChargingDeps,
  input: TerminateInput,
): Promise<Result<ChargingSession, ErrorCode>> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { session, cached } = await currentSession(deps, input.sessionId, attempt);
    if (!session || (input.organizationId && session.organizationId !== input.organizationId)) return failure('session_not_found');
    if (session.state === 'ended') return { ok: true, value: session };
    const now = deps.clock.now();
    // The expiry job found it expired; an update since (read here, on a retry) gave it a new
    // grant and TTL: it is no longer forgotten, and must not be charged that whole new grant.
    if (input.reason === 'expired' && session.expiresAt.getTime() > now.getTime()) return { ok: true, value: session };
    const organization = (await deps.organizations.get(session.organizationId))!.organization;
    const used = clampUsed(session, input.usedSeconds);
    const price = priceCall(session.plan, used);
    const ended: ChargingSession = {
      ...session,
      state: 'ended',
      endReason: input.reason ?? 'terminated',
      usedSeconds: used,
      postedAmount: price.cost,
      holdId: null,
      holdAmount: 0n,
      cost: price.cost,
      billedSeconds: price.billedSeconds,
      version: session.version + 1,
      updatedAt: now,
      endedAt: now,
    };
    const timeZone = await timeZoneOf(deps, organization);
    const usage = (transferId: string | null) =>
      usageWithCharge(
        {
          organizationId: organization.id,
          service: 'voice',
          destination: session.destination,
          destinationName: session.destinationName,
          prefix: session.prefix,
          rateDeckVersionId: session.rateDeckVersionId,
          startedAt: session.startedAt,
          quantity: used,
          billedQuantity: price.billedSeconds,
          cost: price.cost,
          source: 'session',
          externalId: session.callId,
        },
        organization,
        timeZone,
        transferId,
        now,
      );
    try {
      if (!session.holdId) {
        await deps.db.transaction(async (tx) => {
          if ((await saveSessions(tx, [{ session: ended, expectedVersion: session.version }])) !== 1) throw new SessionMoved();
          await writeUsage(tx, usage(null));
        });
        deps.sessions.forget(session.id);
        return { ok: true, value: ended };
      }
      const result = await deps.ledger.execute({
        transfers: [{ kind: 'post_pending', pendingId: session.holdId, amount: price.cost - session.postedAmount }],
        idempotencyKey: { scope: 'charging', key: `session:${session.id}:v${session.version}` },
        records: (outcome) => [
          batchRecord(sessionSteps, { session: ended, expectedVersion: session.version }),
          ...usageRecords(usage(outcome.transfers[0]!.id)),
        ],
      });
      if (notTaken(result)) return failure(result.code, result.message);
      deps.sessions.forget(session.id);
      if (result.ok && !result.value.replayed) {
        return { ok: true, value: ended };
      }
      // Ended, or moved on, by someone else from the same version, or refused for a cached
      // session that may be stale: read it again.
      if (cached || result.ok || result.code === 'idempotency_conflict') continue;
      return failure(result.code, result.message);
    } catch (error) {
      deps.sessions.forget(session.id);
      if (error instanceof SessionMoved) continue;
      throw error;
    }
  }
  const final = await findSession(deps.db, input.sessionId);
  return final?.state === 'ended' ? { ok: true, value: final } : failure('internal_error', `session ${input.sessionId} could not be ended`);
}

/**
 * The session to step from: on a first attempt the one this process last wrote, when it has it
 * (no read); on a retry, the database's.
 */
async function currentSession(deps: ChargingDeps, id: string, attempt: number): Promise<{ session: ChargingSession | undefined; cached: boolean }> {
  const cached = attempt === 0 ? deps.sessions.get(id, deps.clock.now()) : undefined;
  return cached ? { session: cached, cached: true } : { session: await findSession(deps.db, id), cached: false };
}
