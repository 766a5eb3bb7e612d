import { IANAZone } from 'luxon';
import { failure, type Result } from '../errors.ts';
import { parseCurrency, parseMicros, type Currency } from '../money/index.ts';
import type { BillingProfile } from './organization.ts';

/** A billing profile as a request gives it: every field optional, text as sent. */
export interface BillingProfileInput {
  companyName?: string | null;
  address?: {
    lines?: string[];
    city?: string | null;
    postalCode?: string | null;
    region?: string | null;
    country?: string | null;
  };
  currency?: string;
  timeZone?: string;
  billingEmail?: string | null;
  taxId?: string | null;
  /** Percent as a decimal string: "9" is 9%. */
  taxRate?: string;
}

const regions = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const HUNDRED_PERCENT = 100_000_000n;

// Codes CLDR names that are not countries: unknown region, EU, euro area, UN, outlying Oceania, pseudo-locales.
const NOT_COUNTRIES = new Set(['ZZ', 'EU', 'EZ', 'UN', 'QO', 'XA', 'XB']);

/** ISO 3166-1 alpha-2, as the runtime's CLDR data knows the regions. */
export function isCountryCode(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && !NOT_COUNTRIES.has(code) && regions.of(code) !== undefined;
}

export function isTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * Applies `input` over `base` (the current profile, or defaults for a new organization) and
 * validates the result, naming the field at fault. Pure: the currency lock is the caller's.
 */
export function buildBillingProfile(input: BillingProfileInput, base: BillingProfile, now: Date): Result<BillingProfile, 'invalid_input'> {
  const invalid = (field: string, reason: string) => failure('invalid_input', `billingProfile.${field} ${reason}`);

  let currency: Currency = base.currency;
  if (input.currency !== undefined) {
    const parsed = parseCurrency(input.currency);
    if (!parsed) return invalid('currency', `"${input.currency}" is not an ISO 4217 currency code`);
    currency = parsed;
  }
  const timeZone = input.timeZone ?? base.timeZone;
  if (!isTimeZone(timeZone)) return invalid('timeZone', `"${timeZone}" is not an IANA time zone such as "Asia/Singapore"`);
  const billingEmail = input.billingEmail === undefined ? base.billingEmail : input.billingEmail;
  if (billingEmail !== null && (billingEmail.length > 254 || !EMAIL.test(billingEmail))) return invalid('billingEmail', `"${billingEmail}" is not an e-mail address`);
  let taxRate = base.taxRate;
  if (input.taxRate !== undefined) {
    const parsed = parseMicros(input.taxRate);
    if (!parsed.ok) return invalid('taxRate', parsed.reason);
    if (parsed.value < 0n || parsed.value > HUNDRED_PERCENT) return invalid('taxRate', 'must be a percentage from 0 to 100');
    taxRate = parsed.value;
  }
  const address = { ...base.address, ...input.address };
  const country = address.country === undefined || address.country === null ? null : address.country.toUpperCase();
  if (country !== null && !isCountryCode(country)) return invalid('address.country', `"${address.country}" is not an ISO 3166 country code such as "SG"`);
  const lines = address.lines ?? [];
  if (lines.length > 4) return invalid('address.lines', 'may have at most 4 lines');

  return {
    ok: true,
    value: {
      companyName: input.companyName === undefined ? base.companyName : input.companyName,
      address: { lines: lines.map((line) => line.trim()).filter((line) => line.length > 0), city: address.city ?? null, postalCode: address.postalCode ?? null, region: address.region ?? null, country },
      currency,
      timeZone,
      billingEmail,
      taxId: input.taxId === undefined ? base.taxId : input.taxId,
      taxRate,
      updatedAt: now,
    },
  };
}

export function defaultBillingProfile(companyName: string | null, currency: Currency, now: Date): BillingProfile {
  return {
    companyName,
    address: { lines: [], city: null, postalCode: null, region: null, country: null },
    currency,
    timeZone: 'UTC',
    billingEmail: null,
    taxId: null,
    taxRate: 0n,
    updatedAt: now,
  };
}
