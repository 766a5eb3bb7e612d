import { addSeconds } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import { availableBalance } from '../ledger/apply-command.ts';
import type { Organization } from '../organizations/organization.ts';
import { usageAccounts, type ChargingDeps } from './charging-deps.ts';
import { checkLowCredit } from './low-credit.ts';
import { DEFAULT_INTERVAL_SECONDS, planGrant, TTL_INTERVALS, type ChargingSession } from './session.ts';
import { isUniqueViolation } from '../store/database.ts';
import { findSessionByCall, insertSession } from './session-store.ts';

export interface AuthorizeRequest {
  organization: Organization;
  destination: string;
  /** The switch's id for the call: asking again with it returns the same session. */
  callId: string;
  /** How much time to hold at a time; default: the organization's, else 60 s. */
  intervalSeconds?: number;
}

/** A hold outlives its session's TTL, so the session's own expiry always settles it first. */
export const HOLD_MARGIN_SECONDS = 3600;
/** Credit may move between the check and the hold; a few tries settle it. */
const ATTEMPTS = 3;

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
  const existing = async () => {
    const session = await findSessionByCall(deps.db, organization.id, request.callId);
    return session ? { ok: true as const, value: { session, created: false } } : undefined;
  };
  if (organization.status !== 'active') return (await existing()) ?? failure('organization_not_active');
  const now = deps.clock.now();
  const found = await deps.rating.planFor(organization, 'voice', request.destination, now);
  if (!found.ok) return (await existing()) ?? found;
  const { plan, version } = found.value;
  const intervalSeconds = request.intervalSeconds ?? organization.chargingIntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  const ttlSeconds = intervalSeconds * TTL_INTERVALS;

  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { spending, revenue } = await usageAccounts(deps, organization);
    const usable = availableBalance(spending, now);
    const grant = planGrant(plan, 0, usable, intervalSeconds);
    if (grant.grantedTotal === 0) return (await existing()) ?? failure('insufficient_credit', `usable credit does not pay for the first second of a call to ${request.destination}`);
    const session: ChargingSession = {
      id: newId('ses'),
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
      grantedSeconds: grant.grantedTotal,
      postedAmount: 0n,
      holdId: null,
      holdAmount: grant.costGranted,
      cost: null,
      billedSeconds: null,
      version: 0,
      startedAt: now,
      updatedAt: now,
      expiresAt: addSeconds(now, ttlSeconds),
      endedAt: null,
    };
    if (grant.costGranted === 0n) {
      // A free destination holds nothing.
      try {
        await insertSession(deps.db, session);
      } catch (error) {
        if (isUniqueViolation(error)) return (await existing())!;
        throw error;
      }
      return { ok: true, value: { session, created: true } };
    }
    let written: ChargingSession | undefined;
    const result = await deps.ledger.execute({
      transfers: [
        {
          kind: 'pending',
          debitAccountId: spending.id,
          creditAccountId: revenue.id,
          amount: grant.costGranted,
          code: 'usage:voice',
          timeoutSeconds: ttlSeconds + HOLD_MARGIN_SECONDS,
          metadata: { sessionId: session.id, callId: request.callId },
        },
      ],
      idempotencyKey: { scope: 'charging', key: `session:${organization.id}:${request.callId}` },
      afterWrite: async (tx, outcome) => {
        written = { ...session, holdId: outcome.transfers[0]!.id };
        await insertSession(tx, written);
      },
    });
    if (result.ok && written) {
      await checkLowCredit(deps, organization, usable);
      return { ok: true, value: { session: written, created: true } };
    }
    // The same call authorized before, or at the same moment by another request: its session.
    const other = await existing();
    if (other) return other;
    if (!result.ok && result.code !== 'insufficient_credit') return failure(result.code, result.message);
  }
  return (await existing()) ?? failure('insufficient_credit');
}
