/** The usage_records columns a CDR file's records are stored in with COPY, in this order. */
export const USAGE_COPY_COLUMNS: readonly string[] = [
  'id',
  'organization_id',
  'service',
  'destination',
  'destination_name',
  'prefix',
  'rate_deck_version_id',
  'started_at',
  'quantity',
  'billed_quantity',
  'cost',
  'currency',
  'bill_period',
  'source',
  'external_id',
  'charge_id',
  'created_at',
];

const SPECIAL = /[",\r\n]/;

/**
 * A text value as a COPY CSV field. An empty text is quoted: unquoted, COPY reads it as NULL
 * (a deck row without a destination name, an SMS without a number).
 */
export function csvText(value: string): string {
  if (value === '') return '""';
  return SPECIAL.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** What a usage record's CSV line is made of, apart from its charge and creation time. */
export interface UsageLine {
  readonly id: string;
  readonly organizationId: string;
  readonly service: string;
  readonly destination: string;
  readonly destinationName: string;
  readonly prefix: string;
  readonly rateDeckVersionId: string;
  readonly startedAt: Date;
  readonly quantity: number;
  readonly billedQuantity: number;
  readonly cost: bigint;
  readonly currency: string;
  readonly billPeriod: string;
  readonly externalId: string;
}

/**
 * A record's line up to its charge id (the columns before charge_id, each followed by a comma),
 * made once when the record is priced; `charge_id` and `created_at` are added when it is stored.
 * Ids, numbers, dates, currencies and periods never need quoting; the rest may.
 */
export function usageLineHead(record: UsageLine): string {
  return (
    `${record.id},${record.organizationId},${record.service},${csvText(record.destination)},${csvText(record.destinationName)},` +
    `${csvText(record.prefix)},${record.rateDeckVersionId},${record.startedAt.toISOString()},${record.quantity},${record.billedQuantity},` +
    `${record.cost},${record.currency},${record.billPeriod},cdr,${csvText(record.externalId)},`
  );
}
