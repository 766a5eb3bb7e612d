import { divideRounded, type RoundingMode } from '../money/rounding.ts';

/** An exact fraction: costs are computed in these and rounded once, at the end. */
export interface Rational {
  readonly n: bigint;
  /** Always positive. */
  readonly d: bigint;
}

export const ZERO: Rational = { n: 0n, d: 1n };

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function reduce(n: bigint, d: bigint): Rational {
  if (n === 0n) return ZERO;
  const g = gcd(n, d);
  return { n: n / g, d: d / g };
}

export function add(a: Rational, b: Rational): Rational {
  return a.d === b.d ? reduce(a.n + b.n, a.d) : reduce(a.n * b.d + b.n * a.d, a.d * b.d);
}

/** a x numerator / denominator. */
export function scale(a: Rational, numerator: bigint, denominator: bigint): Rational {
  return reduce(a.n * numerator, a.d * denominator);
}

export function compare(a: Rational, b: Rational): -1 | 0 | 1 {
  const left = a.n * b.d;
  const right = b.n * a.d;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function min(a: Rational, b: Rational): Rational {
  return compare(a, b) <= 0 ? a : b;
}

/** A decimal string of up to 12 decimals, exactly: "0.0703333" -> 703333/10^7. */
export function parseDecimal(text: string): Rational | undefined {
  const match = /^(\d+)(?:\.(\d{1,12}))?$/.exec(text.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  return reduce(BigInt(match[1]! + fraction), 10n ** BigInt(fraction.length));
}

export function formatDecimal(value: Rational): string {
  // Denominators here are powers of 2 and 5 (decimals); find the shortest exact form.
  for (let decimals = 0; decimals <= 18; decimals++) {
    const scaled = value.n * 10n ** BigInt(decimals);
    if (scaled % value.d === 0n) {
      const digits = (scaled / value.d).toString().padStart(decimals + 1, '0');
      return decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
    }
  }
  throw new RangeError('not a terminating decimal');
}

/** To micro-units, rounding to `decimals` (0..6) places with `mode`: the once-per-call rounding. */
export function toMicros(value: Rational, decimals: number, mode: RoundingMode): bigint {
  const step = 10n ** BigInt(6 - decimals);
  return divideRounded(value.n * 1_000_000n, value.d * step, mode) * step;
}
