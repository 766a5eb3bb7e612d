import type { RoundingMode } from '../money/rounding.ts';
import type { Rational } from './rational.ts';

export type Service = 'voice' | 'sms' | 'fax' | 'number_activation';
export const SERVICES: readonly Service[] = ['voice', 'sms', 'fax', 'number_activation'];

/** How the call total is rounded, once: a method and 0..6 decimals. */
export interface Rounding {
  readonly method: Extract<RoundingMode, 'up' | 'half_up' | 'down'>;
  readonly decimals: number;
}

/** One row of a rate deck, parsed. */
export interface RateRow {
  readonly line: number;
  readonly service: Service;
  /** E.164 digits; empty matches any number. */
  readonly prefix: string;
  readonly destination: string;
  /** Once per answered call (or per event). */
  readonly connectFee: Rational;
  /** Per `rateUnitSeconds` for voice; per message, page or activation otherwise. */
  readonly rate: Rational;
  readonly rateUnitSeconds: number;
  /** The first block starting in this row's interval, then each next block. */
  readonly firstIncrementSeconds: number;
  readonly nextIncrementSeconds: number;
  /** From which second of the call this row's rate applies. */
  readonly intervalStartSeconds: number;
  readonly minDurationSeconds: number;
  readonly rounding: Rounding;
  readonly maxCost: Rational | null;
  readonly maxCostStrategy: 'free' | 'disconnect' | null;
  readonly effectiveFrom: Date;
  readonly effectiveTo: Date | null;
}

/**
 * The rows that price one call: for one prefix, those in force at the call's start, one per
 * interval, ordered by interval start. The first row (interval 0) carries the call's connect
 * fee, minimum duration, rounding and cap.
 */
export interface RatePlan {
  readonly prefix: string;
  readonly destination: string;
  readonly rows: readonly RateRow[];
}

export const DEFAULT_ROUNDING: Rounding = { method: 'half_up', decimals: 6 };
