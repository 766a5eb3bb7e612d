/**
 * How a quotient that does not come out whole is brought to an integer.
 * - `half_up`: to the nearest, a tie away from zero (commercial rounding; 2.5 -> 3, -2.5 -> -3)
 * - `half_even`: to the nearest, a tie to the even neighbour (banker's rounding; 2.5 -> 2)
 * - `up`: away from zero (2.1 -> 3, -2.1 -> -3)
 * - `down`: toward zero, i.e. truncation (2.9 -> 2, -2.9 -> -2)
 */
export type RoundingMode = 'half_up' | 'half_even' | 'up' | 'down';

export const ROUNDING_MODES: readonly RoundingMode[] = ['half_up', 'half_even', 'up', 'down'];

export function isRoundingMode(value: string): value is RoundingMode {
  return (ROUNDING_MODES as readonly string[]).includes(value);
}

/** numerator / denominator as an integer, rounded with `mode`. Exact: no floating point anywhere. */
export function divideRounded(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  let quotient = magnitude / denominator;
  const remainder = magnitude % denominator;
  if (remainder !== 0n) {
    const twice = remainder * 2n;
    switch (mode) {
      case 'up':
        quotient += 1n;
        break;
      case 'down':
        break;
      case 'half_up':
        if (twice >= denominator) quotient += 1n;
        break;
      case 'half_even':
        if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) quotient += 1n;
        break;
    }
  }
  return negative ? -quotient : quotient;
}
