import { stringify } from 'csv-stringify/sync';
import { spreadsheetCell } from '../spreadsheet-cells.ts';
import { RATE_DECK_COLUMNS } from './parse-rate-deck.ts';
import { formatDecimal } from './rational.ts';
import type { RateRow } from './rate-plan.ts';

/**
 * Rate rows as lines of Ringbill's deck CSV (every column, in RATE_DECK_COLUMNS order), so that
 * an export imports back as the same deck. Every field is written out, defaults too, so the
 * file says what the deck charges without the reader knowing the defaults. With `header`, the
 * column names come first.
 */
export function formatRateDeckRows(rows: readonly RateRow[], options: { header: boolean }): string {
  return stringify(
    rows.map((row) => [
      row.service,
      row.prefix,
      spreadsheetCell(row.destination),
      formatDecimal(row.connectFee),
      formatDecimal(row.rate),
      row.rateUnitSeconds,
      `${row.firstIncrementSeconds}/${row.nextIncrementSeconds}`,
      row.intervalStartSeconds,
      row.minDurationSeconds,
      row.rounding.method,
      row.rounding.decimals,
      row.maxCost === null ? '' : formatDecimal(row.maxCost),
      row.maxCostStrategy ?? '',
      row.effectiveFrom.toISOString(),
      row.effectiveTo?.toISOString() ?? '',
    ]),
    options.header ? { header: true, columns: [...RATE_DECK_COLUMNS] } : {},
  );
}
