import { isStorableTime, TIME_RANGE, utcTime } from '../clock/clock.ts';
import { readCsvText } from '../csv/csv-reader.ts';
import { fromSpreadsheetCell } from '../spreadsheet-cells.ts';
import { compare, parseDecimal, type Rational } from './rational.ts';
import { DEFAULT_ROUNDING, SERVICES, type RateRow, type Rounding, type Service } from './rate-plan.ts';
import { MAX_CALL_SECONDS } from './price.ts';

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
  const problems: DeckProblem[] = [];
  // Records are read as plain field lists, and a record that breaks the CSV syntax is reported
  // on its own line, so one stray quote or comma does not hide every other problem of the file.
  const read = readCsvText(csv);
  for (const fault of read.faults) problems.push({ line: fault.line, field: 'csv', message: fault.message });
  const records = read.records.map((record, index) => ({ record, info: { lines: read.lines[index]! } }));
  const [header, ...rest] = records;
  if (!header) return { ok: false, problems: [...problems, { line: 1, field: 'csv', message: 'the deck has no rows' }] };
  // The header's own line: blank lines may come before it.
  const headerLine = header.info.lines;
  const columns = header.record.map((name) => name.trim().toLowerCase());
  const headerProblems = problems.length;
  columns.forEach((name, index) => {
    if (!(RATE_DECK_COLUMNS as readonly string[]).includes(name)) problems.push({ line: headerLine, field: name, message: `unknown column "${name}"; the columns are ${RATE_DECK_COLUMNS.join(', ')}` });
    else if (columns.indexOf(name) !== index) problems.push({ line: headerLine, field: name, message: `the column "${name}" is named twice` });
  });
  for (const name of REQUIRED) if (!columns.includes(name)) problems.push({ line: headerLine, field: name, message: `the column "${name}" is missing` });
  // Without its columns no row can be read.
  if (problems.length > headerProblems) return { ok: false, problems: problems.sort((a, b) => a.line - b.line) };
  if (rest.length === 0) problems.push({ line: headerLine, field: 'csv', message: 'the deck has no rows' });

  const rows: RateRow[] = [];
  for (const { record, info } of rest) {
    if (record.length !== columns.length) {
      problems.push({ line: info.lines, field: 'csv', message: `the line has ${record.length} field(s); the header names ${columns.length}` });
      continue;
    }
    const row = parseRow(Object.fromEntries(columns.map((name, index) => [name, record[index]!])), info.lines, defaultEffectiveFrom, problems);
    if (row) rows.push(row);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  const checked = checkRows(rows);
  problems.push(...checked.problems);
  problems.sort((a, b) => a.line - b.line);
  return problems.length > 0 ? { ok: false, problems: problems.slice(0, MAX_PROBLEMS) } : { ok: true, rows: checked.rows };
}

/** The largest whole number a deck's seconds fit in (a PostgreSQL `integer`). */
export const MAX_WHOLE = 2_147_483_647;

/**
 * An ISO 8601 date (midnight UTC) or time with an offset; undefined for anything else,
 * including dates that do not exist (2026-02-30), which `Date` would quietly move on, and times
 * outside the years kept (9999-12-31T23:00:00-05:00 is in 10000 in UTC).
 */
export function parseIsoTime(value: string): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (Number.isNaN(utcTime(year, month, day))) return undefined;
  const parsed = new Date(match[4] ? value : `${value}T00:00:00Z`);
  return isStorableTime(parsed.getTime()) ? parsed : undefined;
}

/** What is wrong with a prefix (its `+` and spaces taken out), if anything. */
export function prefixProblem(prefix: string): string | undefined {
  if (!/^\d{0,20}$/.test(prefix)) return 'is not E.164 digits (at most 20)';
  // Numbers lose their international access code before the lookup, so such a row would never match.
  if (prefix.startsWith('00')) return 'starts with the international access code 00; write the E.164 digits after it';
  return undefined;
}

function parseRow(record: Record<string, string>, line: number, defaultEffectiveFrom: Date, problems: DeckProblem[]): RateRow | undefined {
  const before = problems.length;
  const problem = (field: string, message: string) => problems.push({ line, field, message });
  const text = (field: (typeof RATE_DECK_COLUMNS)[number]) => record[field]?.trim() ?? '';

  const service = (text('service') || 'voice') as Service;
  if (!SERVICES.includes(service)) problem('service', `"${service}" is not one of ${SERVICES.join(', ')}`);
  const prefix = text('prefix').replace(/[+\s]/g, '');
  const wrongPrefix = prefixProblem(prefix);
  if (wrongPrefix) problem('prefix', `"${text('prefix')}" ${wrongPrefix}`);
  const decimal = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: string | null): Rational | null => {
    const value = text(field) || fallback;
    if (value === null) return null;
    const parsed = parseDecimal(value);
    if (!parsed) problem(field, `"${value}" is not a non-negative decimal number (up to 12 decimals)`);
    return parsed ?? null;
  };
  const integer = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: number, minimum: number, maximum = MAX_WHOLE): number => {
    const value = text(field);
    if (value === '') return fallback;
    const parsed = /^\d+s?$/.test(value) ? Number.parseInt(value, 10) : Number.NaN;
    const fits = Number.isSafeInteger(parsed) && parsed >= minimum && parsed <= maximum;
    if (!fits) problem(field, `"${value}" is not a whole number from ${minimum} to ${maximum}`);
    return fits ? parsed : fallback;
  };
  const date = (field: (typeof RATE_DECK_COLUMNS)[number], fallback: Date | null): Date | null => {
    const value = text(field);
    if (value === '') return fallback;
    const parsed = parseIsoTime(value);
    if (!parsed) problem(field, `"${value}" is not an ISO 8601 date or time with an offset, ${TIME_RANGE}`);
    return parsed ?? fallback;
  };

  const connectFee = decimal('connect_fee', '0');
  const rate = decimal('rate', null);
  // Left empty, the row would be left out, and its numbers priced by a shorter prefix.
  if (text('rate') === '') problem('rate', 'is required (0 for a free destination)');
  const rateUnitSeconds = integer('rate_unit', 60, 1);
  let firstIncrementSeconds = 1;
  let nextIncrementSeconds = 1;
  const increments = text('increments');
  if (increments !== '') {
    const match = /^(\d+)s?\/(\d+)s?$/.exec(increments);
    // No block longer than the longest call: billed seconds (the call rounded up to its blocks)
    // then stay within what usage records hold.
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1 || Number(match[1]) > MAX_CALL_SECONDS || Number(match[2]) > MAX_CALL_SECONDS) {
      problem('increments', `"${increments}" is not "first/next" in whole seconds from 1 to ${MAX_CALL_SECONDS}, such as 60/60 or 30/6`);
    } else [firstIncrementSeconds, nextIncrementSeconds] = [Number(match[1]), Number(match[2])];
  }
  const intervalStartSeconds = integer('interval_start', 0, 0);
  const minDurationSeconds = integer('min_duration', 0, 0, MAX_CALL_SECONDS);
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
  // 0 would make every call free (with disconnect: refuse every call); CGRateS reads it as no cap.
  if (maxCost && maxCost.n === 0n) problem('max_cost', '0 is no cap: leave max_cost empty for none');
  const empty = new Set<CallWideField>();
  if (method === '' && text('rounding_decimals') === '') empty.add('rounding');
  if (text('max_cost') === '' && strategy === '') empty.add('max_cost');
  const effectiveFrom = date('effective_from', defaultEffectiveFrom)!;
  const effectiveTo = date('effective_to', null);
  if (effectiveTo && effectiveTo.getTime() <= effectiveFrom.getTime()) problem('effective_to', 'must be after effective_from');

  const destination = fromSpreadsheetCell(text('destination'));
  // Shown on invoices and price lists, and stored: no control characters (a NUL the database refuses).
  if (/\p{Cc}/u.test(destination)) problem('destination', 'holds a control character');

  if (problems.length > before || !rate || !connectFee) return undefined;
  const row: RateRow = {
    line,
    service,
    prefix,
    destination,
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
  if (empty.size > 0) leftEmpty.set(row, empty);
  return row;
}

/** What the row from second 0 of a rate sets for the whole call, and a later row may leave empty. */
type CallWideField = 'rounding' | 'max_cost';

/**
 * The call-wide fields a CSV row left empty: a later row then takes the head row's, where its
 * parsed defaults (half_up to 6, no cap) would otherwise read as a different value.
 */
const leftEmpty = new WeakMap<RateRow, ReadonlySet<CallWideField>>();

function sameCap(a: RateRow, b: RateRow): boolean {
  if (a.maxCost === null || b.maxCost === null) return a.maxCost === b.maxCost;
  return compare(a.maxCost, b.maxCost) === 0 && a.maxCostStrategy === b.maxCostStrategy;
}

/**
 * What no single row shows: every rate must start at second 0, only calls change rate during
 * the call, and no two rows may price the same second of the same call. CSV and CGRateS
 * imports both pass here, so every stored deck exports as a file that imports back. Answers the
 * rows as they are stored: a later row that left the call's rounding or cap empty carries its
 * head row's.
 */
export function checkRows(rows: readonly RateRow[]): { problems: DeckProblem[]; rows: RateRow[] } {
  const problems: DeckProblem[] = [];
  const inherited = new Map<RateRow, RateRow>();
  const groups = new Map<string, RateRow[]>();
  for (const row of rows) {
    if (row.service !== 'voice' && row.intervalStartSeconds !== 0) {
      problems.push({ line: row.line, field: 'interval_start', message: 'only voice rates change during a call' });
      continue;
    }
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
    const head = starts.get(0);
    if (!head) {
      const row = group[0]!;
      problems.push({ line: row.line, field: 'interval_start', message: `${row.service} ${row.prefix || '(any)'} has no rate from second 0` });
      continue;
    }
    // The row from second 0 prices the call as a whole; a later row only changes the rate, and
    // anything else it says would be ignored without a word.
    for (const row of group) {
      if (row === head) continue;
      const empty = leftEmpty.get(row);
      if (empty) inherited.set(row, { ...row, ...(empty.has('rounding') ? { rounding: head.rounding } : {}), ...(empty.has('max_cost') ? { maxCost: head.maxCost, maxCostStrategy: head.maxCostStrategy } : {}) });
      const differs = [
        ...(row.connectFee.n !== 0n ? ['connect_fee'] : []),
        ...(row.minDurationSeconds !== 0 ? ['min_duration'] : []),
        ...(!empty?.has('rounding') && (row.rounding.method !== head.rounding.method || row.rounding.decimals !== head.rounding.decimals) ? ['rounding'] : []),
        ...(!empty?.has('max_cost') && !sameCap(row, head) ? ['max_cost'] : []),
        // The call's price ends with the row from second 0; a later row's own end went unread,
        // and its rate was charged after it.
        ...(row.effectiveTo !== null && row.effectiveTo.getTime() !== head.effectiveTo?.getTime() ? ['effective_to'] : []),
      ];
      for (const field of differs) problems.push({ line: row.line, field, message: `only the row from second 0 (line ${head.line}) sets the call's ${field}; leave it empty or the same here` });
    }
  }
  return { problems, rows: rows.map((row) => inherited.get(row) ?? row) };
}
