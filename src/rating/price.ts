import * as q from './rational.ts';
import type { Rational } from './rational.ts';
import type { RatePlan } from './rate-plan.ts';

export interface CallPrice {
  /** Seconds billed: the call's blocks, after the minimum duration. */
  readonly billedSeconds: number;
  /** The exact cost before the cap and the rounding. */
  readonly exactCost: Rational;
  /** Micro-units, capped by the max cost and rounded once with the deck's rounding. */
  readonly cost: bigint;
  readonly capped: boolean;
}

const FREE: CallPrice = { billedSeconds: 0, exactCost: q.ZERO, cost: 0n, capped: false };

/**
 * Prices a call of `durationSeconds` exactly: connect fee + the sum over its billed blocks of
 * rate x block seconds / rate unit, capped by the max cost, rounded once. A block belongs to the
 * row whose interval it starts in; the first block starting in a row's interval has that row's
 * first increment, the rest its next increment. An unanswered call (0 s) costs nothing.
 */
export function priceCall(plan: RatePlan, durationSeconds: number): CallPrice {
  if (durationSeconds <= 0) return FREE;
  const rows = plan.rows;
  const head = rows[0]!;
  const duration = Math.max(durationSeconds, head.minDurationSeconds);
  let position = 0;
  let cost: Rational = head.connectFee;
  for (let index = 0; index < rows.length && position < duration; index++) {
    const row = rows[index]!;
    const end = index + 1 < rows.length ? rows[index + 1]!.intervalStartSeconds : Number.POSITIVE_INFINITY;
    // Blocks of the previous row may have run past this whole interval.
    if (position >= end) continue;
    let seconds = row.firstIncrementSeconds;
    position += row.firstIncrementSeconds;
    const target = Math.min(duration, end);
    if (position < target) {
      const blocks = Math.ceil((target - position) / row.nextIncrementSeconds);
      seconds += blocks * row.nextIncrementSeconds;
      position += blocks * row.nextIncrementSeconds;
    }
    cost = q.add(cost, q.scale(row.rate, BigInt(seconds), BigInt(row.rateUnitSeconds)));
  }
  return finish(plan, position, cost);
}

/** Prices `quantity` messages, pages or activations: connect fee + rate x quantity, rounded once. */
export function priceEvent(plan: RatePlan, quantity: number): CallPrice {
  if (quantity <= 0) return FREE;
  const head = plan.rows[0]!;
  return finish(plan, quantity, q.add(head.connectFee, q.scale(head.rate, BigInt(quantity), 1n)));
}

function finish(plan: RatePlan, billed: number, exactCost: Rational): CallPrice {
  const head = plan.rows[0]!;
  let charged = exactCost;
  let capped = false;
  if (head.maxCost && q.compare(exactCost, head.maxCost) > 0) {
    charged = head.maxCost;
    capped = true;
  }
  return { billedSeconds: billed, exactCost, cost: q.toMicros(charged, head.rounding.decimals, head.rounding.method), capped };
}

/** The longest a call can last: 24 hours bounds every search for affordable time. */
export const MAX_CALL_SECONDS = 86_400;

/**
 * The longest call (up to `limitSeconds`) whose cost fits in `budget` micro-units; 0 when not
 * even the first second fits. Under a `disconnect` cap the call also
 * stops where its uncapped cost would pass the cap.
 */
export function affordableSeconds(plan: RatePlan, budget: bigint, limitSeconds: number): number {
  const head = plan.rows[0]!;
  const fits = (seconds: number) => {
    const price = priceCall(plan, seconds);
    if (head.maxCostStrategy === 'disconnect' && price.capped) return false;
    return price.cost <= budget;
  };
  if (limitSeconds <= 0 || !fits(1)) return 0;
  let low = 1;
  let high = limitSeconds;
  if (fits(high)) return high;
  // Cost never falls as a call gets longer, so the boundary can be searched.
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}
