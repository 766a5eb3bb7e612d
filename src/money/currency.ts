import currencyCodes from 'currency-codes';

/** An ISO 4217 alphabetic code, e.g. `SGD`. Only codes known to ISO 4217 are valid. */
export type Currency = string & { readonly __brand: 'Currency' };

/** Micro-units per major unit: every amount is stored as an integer count of these. */
export const MICROS_PER_UNIT = 1_000_000n;
export const MICRO_DECIMALS = 6;

// Codes that name no money a provider can bill in: precious metals, testing, "no currency",
// SDR and the European composite units.
const NOT_BILLABLE = new Set(['XAU', 'XAG', 'XPD', 'XPT', 'XTS', 'XXX', 'XDR', 'XBA', 'XBB', 'XBC', 'XBD', 'XSU', 'XUA']);

const minorDigits = new Map<string, number>();
for (const code of currencyCodes.codes()) {
  const entry = currencyCodes.code(code);
  if (entry && !NOT_BILLABLE.has(code)) minorDigits.set(code, entry.digits);
}

/** Parses an ISO 4217 code, or answers undefined for anything else (lower case included). */
export function parseCurrency(code: string): Currency | undefined {
  return minorDigits.has(code) ? (code as Currency) : undefined;
}

export function isCurrency(code: string): code is Currency {
  return minorDigits.has(code);
}

/** The currency's minor-unit exponent from ISO 4217: SGD 2, JPY 0, KWD 3, CLF 4. */
export function minorUnitDigits(currency: Currency): number {
  const digits = minorDigits.get(currency);
  if (digits === undefined) throw new Error(`not an ISO 4217 currency: ${currency}`);
  return digits;
}
