import type { UsageRecord } from '../usage-record.ts';

/** The usage_records columns a CDR file's records are stored in with COPY, in this order: charge_id last. */
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
  'created_at',
  'charge_id',
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

/** What a usage record's CSV line is made of: the record but its charge, with its creation time as text. */
export type UsageLine = Omit<UsageRecord, 'source' | 'chargeId' | 'createdAt'> & {
  /** ISO 8601, made once for many records. */
  readonly createdAt: string;
};

/** One array for the fields of every line: joined, it gives a flat string, and nothing to collect. */
const fields: (string | number | bigint)[] = [];

/**
 * A record's COPY line, line break included, pointing at its charge (none for a free record).
 * Ids, numbers, dates, currencies and periods never need quoting; the rest may.
 */
export function usageLine(record: UsageLine, chargeId: string | null): string {
  fields[0] = record.id;
  fields[1] = record.organizationId;
  fields[2] = record.service;
  fields[3] = csvText(record.destination);
  fields[4] = csvText(record.destinationName);
  fields[5] = csvText(record.prefix);
  fields[6] = record.rateDeckVersionId;
  fields[7] = record.startedAt.toISOString();
  fields[8] = record.quantity;
  fields[9] = record.billedQuantity;
  fields[10] = record.cost;
  fields[11] = record.currency;
  fields[12] = record.billPeriod;
  fields[13] = 'cdr';
  fields[14] = csvText(record.externalId);
  fields[15] = record.createdAt;
  fields[16] = chargeId === null ? '\n' : `${chargeId}\n`;
  return fields.join(',');
}
