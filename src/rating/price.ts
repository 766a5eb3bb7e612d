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

/** Above this, a product of integers in a double may not be exact. */
const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * What `priceCall` answers for billed seconds and the rounded cost, the same to the micro-unit,
 * for bulk rating (a CDR file prices a million calls). The usual plan, one row and no cap, is
 * worked out in plain integers when every intermediate value provably is one below 2^53 (a
 * product of doubles is exact when the result is below 2^53, and checked to be); anything else
 * goes to `priceCall`.
 */
export function callCost(plan: RatePlan, durationSeconds: number): { billedSeconds: number; cost: bigint } {
  const rows = plan.rows;
  const row = rows[0]!;
  if (durationSeconds <= 0 || rows.length !== 1 || row.maxCost) return exactly(plan, durationSeconds);
  const duration = Math.max(durationSeconds, row.minDurationSeconds);
  let billed = row.firstIncrementSeconds;
  if (billed < duration) billed += Math.ceil((duration - billed) / row.nextIncrementSeconds) * row.nextIncrementSeconds;
  // cost = a/b + (c/e) x billed / unit = (a e unit + c billed b) / (b e unit); in micro-units of
  // `step`: x 10^6 / step.
  const a = Number(row.connectFee.n);
  const b = Number(row.connectFee.d);
  const c = Number(row.rate.n);
  const e = Number(row.rate.d);
  const unit = row.rateUnitSeconds;
  const step = STEPS[row.rounding.decimals]!;
  const eUnit = e * unit;
  const fee = a * eUnit;
  const usage = c * billed * b;
  const numerator = (fee + usage) * (1_000_000 / step);
  const denominator = b * eUnit;
  if (!(a <= SAFE && b <= SAFE && c <= SAFE && e <= SAFE && eUnit <= SAFE && fee <= SAFE && c * billed <= SAFE && usage <= SAFE && fee + usage <= SAFE && denominator <= SAFE && numerator + denominator <= SAFE)) {
    return exactly(plan, durationSeconds);
  }
  let quotient = Math.floor(numerator / denominator);
  let remainder = numerator - quotient * denominator;
  // The division of doubles may be off by one either way: the remainder (exact, as quotient x
  // denominator is at most numerator + denominator) says which.
  if (remainder < 0) {
    quotient -= 1;
    remainder += denominator;
  } else if (remainder >= denominator) {
    quotient += 1;
    remainder -= denominator;
  }
  if (remainder !== 0) {
    const method = row.rounding.method;
    if (method === 'up' || (method === 'half_up' && remainder >= denominator - remainder)) quotient += 1;
  }
  const micros = quotient * step;
  if (micros > SAFE) return exactly(plan, durationSeconds);
  return { billedSeconds: billed, cost: BigInt(micros) };
}

function exactly(plan: RatePlan, durationSeconds: number): { billedSeconds: number; cost: bigint } {
  const price = priceCall(plan, durationSeconds);
  return { billedSeconds: price.billedSeconds, cost: price.cost };
}

/** 10^(6 - decimals): the micro-units a step of the rounding is. */
const STEPS = [1_000_000, 100_000, 10_000, 1000, 100, 10, 1];

/** Prices `quantity` messages, pages or activations: connect fee + rate x quantity, rounded once. */
export function priceEvent(plan: RatePlan, quantity: number): CallPrice {
  if (quantity <= 0) return FREE;
  const head = plan.rows[0]!;
  return finish(plan, quantity, q.add(head.connectFee, q.scale(head.rate, BigInt(quantity), 1n)));
}

function finish(plan: RatePlan, billed: number, exactCost: Rational): CallPrice {
  const head = plan.rows[0]!;
  const cost = q.toMicros(exactCost, head.rounding.decimals, head.rounding.method);
  // A cap is a promise: rounded down, so that a cap finer than the rounding is never passed, and
  // compared with the rounded cost, so that rounding up to the cap's step never passes it either
  // (nor makes a longer call cheaper than a shorter one rounded above the cap).
  const cap = head.maxCost && q.toMicros(head.maxCost, head.rounding.decimals, 'down');
  if (cap !== undefined && cap !== null && cost > cap) return { billedSeconds: billed, exactCost, cost: cap, capped: true };
  return { billedSeconds: billed, exactCost, cost, capped: false };
}

/** The longest a call can last: 24 hours bounds every search for affordable time. */
export const MAX_CALL_SECONDS = 86_400;

/**
 * Whether a plan bills in blocks (or a minimum) longer than the longest call: only a deck stored
 * before those were bounded by the parser has such rows, and a call they price can bill more
 * seconds than a usage record holds.
 */
export function hasBlocksLongerThanACall(plan: RatePlan): boolean {
  return plan.rows.some((row) => row.firstIncrementSeconds > MAX_CALL_SECONDS || row.nextIncrementSeconds > MAX_CALL_SECONDS || row.minDurationSeconds > MAX_CALL_SECONDS);
}

/** The most messages, pages or activations one event (or one CDR line) counts. */
export const MAX_QUANTITY = 100_000;

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
