import { parse } from 'csv-parse/sync';
import { parseDecimal, type Rational } from './rational.ts';
import { DEFAULT_ROUNDING, SERVICES, type RateRow, type Rounding, type Service } from './rate-plan.ts';

/** A line of a deck that cannot be used, and why. */
export interface DeckProblem {
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

export type ParsedDeck = { ok: true; rows: RateRow[] } | { ok: false; problems: DeckProblem[] };

/** The columns of Ringbill's deck CSV, in the order an export writes them. */
export const RATE_DECK_COLUMNS = [
  'service',
  'prefix',
  'destination',
  'connect_fee',
  'rate',
  'rate_unit',
  'increments',
  'interval_start',
  'min_duration',
  'rounding',
  'rounding_decimals',
  'max_cost',
  'max_cost_strategy',
  'effective_from',
  'effective_to',
] as const;

const REQUIRED = ['prefix', 'rate'] as const;
const MAX_PROBLEMS = 1000;

/**
 * Parses a rate deck in Ringbill's CSV format (a header row naming the columns; see
 * docs/rating.md). Every row is checked; the deck is usable only if no row has a problem, so a
 * half-good deck is never activated. `defaultEffectiveFrom` dates rows that name no date.
 */
export function parseRateDeck(csv: string, defaultEffectiveFrom: Date): ParsedDeck {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(csv, { columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()), skip_empty_lines: true, trim: true, info: true, bom: true });
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0;
    return { ok: false, problems: [{ line, field: 'csv', message: (error as Error).message }] };
  }
  const problems: DeckProblem[] = [];
  const first = records[0];
  if (!first) return { ok: false, problems: [{ line: 1, field: 'csv', message: 'the deck has no rows' }] };
  const unknown = Object.keys(first.record).filter((name) => !(RATE_DECK_COLUMNS as readonly string[]).includes(name));
  for (const name of unknown) problems.push({ line: 1, field: name, message: `unknown column "${name}"; the columns are ${RATE_DECK_COLUMNS.join(', ')}` });
  for (const name of REQUIRED) if (!(name in first.record)) problems.push({ line: 1, field: name, message: `the column "${name}" is missing` });
  if (problems.length > 0) return { ok: false, problems };

  const rows: RateRow[] = [];
  for (const { record, info } of records) {
    const row = parseRow(record, info.lines, defaultEffectiveFrom, problems);
    if (row) rows.push(row);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  checkIntervals(rows, problems);
  problems.sort((a, b) => a.line - b.line);
  return problems.length > 0 ? { ok: false, problems: problems.slice(0, MAX_PROBLEMS) } : { ok: true, rows };
}

function parseRow(record: Record<string, string>, line: number, defaultEffectiveFrom: Date, problems: DeckProblem[]): RateRow | undefined {
  const before = problems.length;
  const problem = (field: string, message: string) => problems.push({ line, field, message });
  const text = (field: (typeof RATE_DECK_COLUMNS)[number]) => record[field]?.trim() ?? '';

  const service = (text('service') || 'voice') as Service;
  if (!SERVICES.includes(service)) problem('service', `"${service}" is not one of ${SERVICES.join(', ')}`);
  const prefix = text('prefix').replace(/[+\s]/g, '');
  if (!/^\d{0,20}$/.test(prefix)) problem('prefix', `"${text('prefix')}" is not E.164 digits`);
  const decimal = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: string | null): Rational | null => {
    const value = text(field) || fallback;
    if (value === null) return null;
    const parsed = parseDecimal(value);
    if (!parsed) problem(field, `"${value}" is not a non-negative decimal number (up to 12 decimals)`);
    return parsed ?? null;
  };
  const integer = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: number, minimum: number): number => {
    const value = text(field);
    if (value === '') return fallback;
    const parsed = /^\d+s?$/.test(value) ? Number.parseInt(value, 10) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < minimum) problem(field, `"${value}" is not a whole number of at least ${minimum}`);
    return Number.isSafeInteger(parsed) ? parsed : fallback;
  };
  const date = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: Date | null): Date | null => {
    const value = text(field);
    if (value === '') return fallback;
    const parsed = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value) ? new Date(value.length === 10 ? `${value}T00:00:00Z` : value) : new Date(Number.NaN);
    if (Number.isNaN(parsed.getTime())) problem(field, `"${value}" is not an ISO 8601 date or time with an offset`);
    return Number.isNaN(parsed.getTime()) ? fallback : parsed;
  };

  const connectFee = decimal('connect_fee', '0');
  const rate = decimal('rate', null);
  const rateUnitSeconds = integer('rate_unit', 60, 1);
  let firstIncrementSeconds = 1;
  let nextIncrementSeconds = 1;
  const increments = text('increments');
  if (increments !== '') {
    const match = /^(\d+)s?\/(\d+)s?$/.exec(increments);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) problem('increments', `"${increments}" is not "first/next" in whole seconds, such as 60/60 or 30/6`);
    else [firstIncrementSeconds, nextIncrementSeconds] = [Number(match[1]), Number(match[2])];
  }
  const intervalStartSeconds = integer('interval_start', 0, 0);
  const minDurationSeconds = integer('min_duration', 0, 0);
  let rounding: Rounding = DEFAULT_ROUNDING;
  const method = text('rounding');
  if (method !== '') {
    if (method !== 'up' && method !== 'half_up' && method !== 'down') problem('rounding', `"${method}" is not up, half_up or down`);
    else rounding = { ...rounding, method };
  }
  const decimals = integer('rounding_decimals', rounding.decimals, 0);
  if (decimals > 6) problem('rounding_decimals', 'must be 0 to 6: costs are kept in micro-units');
  rounding = { ...rounding, decimals: Math.min(decimals, 6) };
  const maxCost = decimal('max_cost', null);
  const strategy = text('max_cost_strategy');
  let maxCostStrategy: RateRow['maxCostStrategy'] = null;
  if (strategy !== '' && strategy !== 'free' && strategy !== 'disconnect') problem('max_cost_strategy', `"${strategy}" is not free or disconnect`);
  else if (strategy !== '') maxCostStrategy = strategy;
  if (maxCost && !maxCostStrategy) maxCostStrategy = 'free';
  const effectiveFrom = date('effective_from', defaultEffectiveFrom)!;
  const effectiveTo = date('effective_to', null);
  if (effectiveTo && effectiveTo.getTime() <= effectiveFrom.getTime()) problem('effective_to', 'must be after effective_from');
  if (service !== 'voice' && intervalStartSeconds !== 0) problem('interval_start', 'only voice rates change during a call');

  if (problems.length > before || !rate || !connectFee) return undefined;
  return {
    line,
    service,
    prefix,
    destination: text('destination'),
    connectFee,
    rate,
    rateUnitSeconds,
    firstIncrementSeconds,
    nextIncrementSeconds,
    intervalStartSeconds,
    minDurationSeconds,
    rounding,
    maxCost,
    maxCostStrategy,
    effectiveFrom,
    effectiveTo,
  };
}

/** Every rate must start at second 0, and no two rows may price the same second of the same call. */
function checkIntervals(rows: readonly RateRow[], problems: DeckProblem[]): void {
  const groups = new Map<string, RateRow[]>();
  for (const row of rows) {
    const key = `${row.service}|${row.prefix}|${row.effectiveFrom.getTime()}`;
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  for (const group of groups.values()) {
    const starts = new Map<number, RateRow>();
    for (const row of group) {
      const earlier = starts.get(row.intervalStartSeconds);
      if (earlier) problems.push({ line: row.line, field: 'interval_start', message: `line ${earlier.line} already prices ${row.service} ${row.prefix || '(any)'} from second ${row.intervalStartSeconds} on the same date` });
      else starts.set(row.intervalStartSeconds, row);
    }
    if (!starts.has(0)) {
      const row = group[0]!;
      problems.push({ line: row.line, field: 'interval_start', message: `${row.service} ${row.prefix || '(any)'} has no rate from second 0` });
    }
  }
}
