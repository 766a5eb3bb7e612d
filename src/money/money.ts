import { MICRO_DECIMALS, MICROS_PER_UNIT, minorUnitDigits, parseCurrency, type Currency } from './currency.ts';
import { divideRounded, type RoundingMode } from './rounding.ts';

/** An exact amount: integer micro-units (10^-6 of the major unit) of one currency. */
export interface Money {
  readonly micros: bigint;
  readonly currency: Currency;
}

/** The largest magnitude a PostgreSQL BIGINT holds; amounts beyond it are refused at parse time. */
export const MAX_MICROS = 9_223_372_036_854_775_807n;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Parses a decimal string into micro-units: `"-1610.81544"` -> `-1610815440n`.
 * Refuses JSON numbers (they may already have lost digits), exponents, NaN, empty strings,
 * separators and more than six decimals.
 */
export function parseMicros(text: unknown): ParseResult<bigint> {
  if (typeof text === 'number') return { ok: false, reason: 'must be a decimal string such as "12.50", not a JSON number' };
  if (typeof text !== 'string') return { ok: false, reason: 'must be a decimal string such as "12.50"' };
  if (text === '') return { ok: false, reason: 'must not be empty' };
  const match = DECIMAL.exec(text);
  if (!match) return { ok: false, reason: `"${truncate(text)}" is not a decimal number (digits, an optional "-" and "." only)` };
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > MICRO_DECIMALS) {
    return { ok: false, reason: `"${truncate(text)}" has more than ${MICRO_DECIMALS} decimal places` };
  }
  const magnitude = BigInt(whole!) * MICROS_PER_UNIT + BigInt(fraction.padEnd(MICRO_DECIMALS, '0'));
  if (magnitude > MAX_MICROS) return { ok: false, reason: `"${truncate(text)}" is out of range` };
  return { ok: true, value: sign === '-' ? -magnitude : magnitude };
}

/** Parses an amount and its ISO 4217 currency. */
export function parseMoney(text: unknown, currencyCode: string): ParseResult<Money> {
  const currency = parseCurrency(currencyCode);
  if (!currency) return { ok: false, reason: `"${truncate(currencyCode)}" is not an ISO 4217 currency code` };
  const micros = parseMicros(text);
  return micros.ok ? { ok: true, value: { micros: micros.value, currency } } : micros;
}

export function money(micros: bigint, currency: Currency): Money {
  return { micros, currency };
}

/**
 * Formats micro-units as a decimal string with at least the currency's minor digits and no
 * trailing zeros beyond them: 65979991n SGD -> "65.979991", 100000000n SGD -> "100.00",
 * 5000000n JPY -> "5".
 */
export function formatMicros(micros: bigint, currency: Currency): string {
  const negative = micros < 0n;
  const magnitude = negative ? -micros : micros;
  const whole = magnitude / MICROS_PER_UNIT;
  let fraction = (magnitude % MICROS_PER_UNIT).toString().padStart(MICRO_DECIMALS, '0');
  const keep = minorUnitDigits(currency);
  let end = fraction.length;
  while (end > keep && fraction[end - 1] === '0') end--;
  fraction = fraction.slice(0, end);
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Micro-units as a plain decimal, for amounts with no currency yet (a deck that prices in any currency). */
export function formatPlainMicros(micros: bigint): string {
  const negative = micros < 0n;
  const magnitude = negative ? -micros : micros;
  const fraction = (magnitude % MICROS_PER_UNIT).toString().padStart(MICRO_DECIMALS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${magnitude / MICROS_PER_UNIT}${fraction ? `.${fraction}` : ''}`;
}

export function formatMoney(amount: Money): string {
  return formatMicros(amount.micros, amount.currency);
}

function sameCurrency(a: Money, b: Money): void {
  // Mixing currencies is a programmer error: conversion is an explicit ledger transfer.
  if (a.currency !== b.currency) throw new TypeError(`cannot combine ${a.currency} with ${b.currency}`);
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { micros: a.micros + b.micros, currency: a.currency };
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return { micros: a.micros - b.micros, currency: a.currency };
}

export function negate(a: Money): Money {
  return { micros: -a.micros, currency: a.currency };
}

/** -1, 0 or 1. */
export function compare(a: Money, b: Money): -1 | 0 | 1 {
  sameCurrency(a, b);
  return a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0;
}

export function sum(amounts: readonly Money[], currency: Currency): Money {
  let total = 0n;
  for (const amount of amounts) {
    if (amount.currency !== currency) throw new TypeError(`cannot add ${amount.currency} to a ${currency} sum`);
    total += amount.micros;
  }
  return { micros: total, currency };
}

/**
 * amount x numerator / denominator, exactly, rounded once to micro-units with `mode`.
 * Example: 0.02 per 60 s for 61 s is `multiplyRational(0.02, 61n, 60n, 'half_up')`.
 */
export function multiplyRational(amount: Money, numerator: bigint, denominator: bigint, mode: RoundingMode): Money {
  return { micros: divideRounded(amount.micros * numerator, denominator, mode), currency: amount.currency };
}

/** Rounds to the currency's minor unit (cents for SGD, whole yen for JPY, fils for KWD). */
export function roundToMinorUnit(amount: Money, mode: RoundingMode): Money {
  const step = 10n ** BigInt(MICRO_DECIMALS - minorUnitDigits(amount.currency));
  return { micros: divideRounded(amount.micros, step, mode) * step, currency: amount.currency };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
