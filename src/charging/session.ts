import { affordableSeconds, MAX_CALL_SECONDS, priceCall } from '../rating/price.ts';
import type { RatePlan } from '../rating/rate-plan.ts';

export const DEFAULT_INTERVAL_SECONDS = 60;
/** A budget no call can spend: for the cost of a grant that credit does not limit. */
export const UNLIMITED_BUDGET = 2n ** 62n;
/** A session not updated for this many intervals is ended by the system. */
export const TTL_INTERVALS = 3;

/** A live call being charged, as the session table holds it. */
export interface ChargingSession {
  readonly id: string;
  readonly organizationId: string;
  readonly callId: string;
  readonly service: 'voice';
  readonly destination: string;
  readonly prefix: string;
  readonly destinationName: string;
  readonly rateDeckVersionId: string;
  readonly plan: RatePlan;
  readonly intervalSeconds: number;
  readonly ttlSeconds: number;
  readonly state: 'active' | 'ended';
  readonly endReason: 'terminated' | 'expired' | null;
  readonly usedSeconds: number;
  /** Cumulative from the call's start. */
  readonly grantedSeconds: number;
  readonly postedAmount: bigint;
  readonly holdId: string | null;
  readonly holdAmount: bigint;
  readonly cost: bigint | null;
  readonly billedSeconds: number | null;
  readonly version: number;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  readonly expiresAt: Date;
  readonly endedAt: Date | null;
}

export interface GrantPlan {
  /** Cumulative seconds the call may now last. */
  readonly grantedTotal: number;
  /** The call's cost up to the seconds used: what must be posted by now. */
  readonly costUsed: bigint;
  /** The call's cost up to the grant: posted plus held. */
  readonly costGranted: bigint;
}

/**
 * How far a call may go: up to one more interval past the seconds used, as far as `budget`
 * (the cumulative cost the organization can cover: posted so far + held + usable credit) pays
 * for. Costs are cumulative and rounded as the whole call is, so the postings of a session add
 * up to exactly the call's final cost.
 */
export function planGrant(plan: RatePlan, usedSeconds: number, budget: bigint, intervalSeconds: number): GrantPlan {
  const costUsed = priceCall(plan, usedSeconds).cost;
  const limit = Math.min(usedSeconds + intervalSeconds, MAX_CALL_SECONDS);
  const grantedTotal = Math.max(usedSeconds, affordableSeconds(plan, budget, limit));
  return { grantedTotal, costUsed, costGranted: priceCall(plan, grantedTotal).cost };
}
