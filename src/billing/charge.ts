import { DateTime } from 'luxon';
import type { Currency } from '../money/index.ts';

/** Usage (call, SMS, fax, number activation fee) and everything else an organization is charged for. */
export type ChargeKind = 'call' | 'sms' | 'fax' | 'number_activation' | 'subscription' | 'addon' | 'service' | 'hardware' | 'other';

export const CHARGE_KINDS: readonly ChargeKind[] = ['call', 'sms', 'fax', 'number_activation', 'subscription', 'addon', 'service', 'hardware', 'other'];
const USAGE: ReadonlySet<ChargeKind> = new Set(['call', 'sms', 'fax', 'number_activation']);

export function isUsage(kind: ChargeKind): boolean {
  return USAGE.has(kind);
}

export interface Charge {
  readonly id: string;
  readonly organizationId: string;
  readonly kind: ChargeKind;
  readonly description: string;
  /** Positive: the organization owes it. */
  readonly amount: bigint;
  readonly currency: Currency;
  /** The calendar month in the organization's time zone, `YYYY-MM`. */
  readonly billPeriod: string;
  readonly occurredAt: Date;
  readonly transferId: string | null;
  readonly invoiceId: string | null;
  readonly createdAt: Date;
}

/** The bill period an instant falls in: its calendar month in the organization's time zone. */
export function billPeriodOf(instant: Date, timeZone: string): string {
  return DateTime.fromJSDate(instant, { zone: timeZone }).toFormat('yyyy-MM');
}

/**
 * Bill periods for many instants (a CDR file): every zone's offset is a multiple of 15 minutes,
 * so all instants in one 15-minute slot share a period, and each slot is worked out once.
 */
export class BillPeriods {
  private readonly slots = new Map<string, string>();

  of(instant: Date, timeZone: string): string {
    const key = `${timeZone}\u0000${Math.floor(instant.getTime() / 900_000)}`;
    let period = this.slots.get(key);
    if (period === undefined) {
      if (this.slots.size > 100_000) this.slots.clear();
      period = billPeriodOf(instant, timeZone);
      this.slots.set(key, period);
    }
    return period;
  }
}
