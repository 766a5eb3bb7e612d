import type { ChargeKind } from '../billing/charge.ts';
import type { Currency } from '../money/index.ts';
import type { Service } from '../rating/rate-plan.ts';

/** One priced call, message batch, fax or activation: what the customer's usage list shows. */
export interface UsageRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly service: Service;
  /** The number called or messaged. */
  readonly destination: string;
  /** The matched row's destination name, e.g. "Singapore - Mobile". */
  readonly destinationName: string;
  readonly prefix: string;
  readonly rateDeckVersionId: string;
  readonly startedAt: Date;
  /** Seconds used (voice), or messages / pages / activations. */
  readonly quantity: number;
  /** Seconds billed after blocks and minimum duration; the quantity for the rest. */
  readonly billedQuantity: number;
  readonly cost: bigint;
  readonly currency: Currency;
  readonly billPeriod: string;
  readonly source: 'session' | 'event' | 'cdr';
  /** Unique per organization and source: nothing is charged twice. */
  readonly externalId: string;
  readonly chargeId: string | null;
  readonly createdAt: Date;
}

export function chargeKindOf(service: Service): ChargeKind {
  return service === 'voice' ? 'call' : service;
}
