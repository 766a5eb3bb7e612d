import { isStorableTime, TIME_RANGE, utcTime } from '../clock/clock.ts';
import { readCsvTextInPieces } from '../csv/csv-reader.ts';
import { runInTurns, runToEnd, type Steps } from '../in-turns.ts';
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
  return runToEnd(readRateDeck(csv, defaultEffectiveFrom));
}

/**
 * parseRateDeck in turns of the event loop: a million-row deck takes seconds to read, and the
 * server answers its live calls in between.
 */
export function parseRateDeckInTurns(csv: string, defaultEffectiveFrom: Date): Promise<ParsedDeck> {
  return runInTurns(readRateDeck(csv, defaultEffectiveFrom));
}

/** Lines read between two pauses. */
const ROWS_PER_STEP = 1000;

function* readRateDeck(csv: string, defaultEffectiveFrom: Date): Steps<ParsedDeck> {
  const problems: DeckProblem[] = [];
  const rows: RateRow[] = [];
  const emptied: number[] = [];
  /** Undefined until the header; null when the header has problems and no row can be read. */
  let reader: RowReader | null | undefined;
  let headerLine = 1;
  let records = 0;
  // Records are read as plain field lists, and a record that breaks the CSV syntax is reported
  // on its own line, so one stray quote or comma does not hide every other problem of the file.
  reading: for (const piece of readCsvTextInPieces(csv)) {
    // The piece's unreadable lines join the problems in line order, with its rows', so that the
    // first 1,000 problems kept are the file's first 1,000.
    let fault = 0;
    const faultsBefore = (line: number) => {
      for (; fault < piece.faults.length && piece.faults[fault]!.line < line; fault++) problems.push({ line: piece.faults[fault]!.line, field: 'csv', message: piece.faults[fault]!.message });
    };
    for (let index = 0; index < piece.records.length; index++) {
      const record = piece.records[index]!;
      const line = piece.lines[index]!;
      faultsBefore(line);
      if (problems.length >= MAX_PROBLEMS) break reading;
      if (reader === undefined) {
        // The header's own line: blank lines may come before it.
        headerLine = line;
        reader = readHeader(record, line, defaultEffectiveFrom, problems);
        continue;
      }
      if (reader === null) break;
      records++;
      if (record.length !== reader.width) {
        problems.push({ line, field: 'csv', message: `the line has ${record.length} field(s); the header names ${reader.width}` });
      } else {
        const read = reader.read(record, line);
        if (read) {
          rows.push(read.row);
          emptied.push(read.emptied);
        }
      }
      if (problems.length >= MAX_PROBLEMS) break reading;
      if (records % ROWS_PER_STEP === 0) yield;
    }
    faultsBefore(Infinity);
    yield;
  }
  if (reader === undefined) return { ok: false, problems: [...problems, { line: 1, field: 'csv', message: 'the deck has no rows' }] };
  // Without its columns no row can be read.
  if (reader === null) return { ok: false, problems: problems.sort((a, b) => a.line - b.line) };
  if (records === 0) problems.push({ line: headerLine, field: 'csv', message: 'the deck has no rows' });
  const checked = yield* checkingRows(rows, emptied);
  problems.push(...checked.problems);
  problems.sort((a, b) => a.line - b.line);
  return problems.length > 0 ? { ok: false, problems: problems.slice(0, MAX_PROBLEMS) } : { ok: true, rows: checked.rows };
}

/** The header's columns as a reader of the rows, or null (its problems added) when it has problems. */
function readHeader(record: readonly string[], line: number, defaultEffectiveFrom: Date, problems: DeckProblem[]): RowReader | null {
  const columns = record.map((name) => name.trim().toLowerCase());
  const before = problems.length;
  columns.forEach((name, index) => {
    if (!(RATE_DECK_COLUMNS as readonly string[]).includes(name)) problems.push({ line, field: name, message: `unknown column "${name}"; the columns are ${RATE_DECK_COLUMNS.join(', ')}` });
    else if (columns.indexOf(name) !== index) problems.push({ line, field: name, message: `the column "${name}" is named twice` });
  });
  for (const name of REQUIRED) if (!columns.includes(name)) problems.push({ line, field: name, message: `the column "${name}" is missing` });
  return problems.length > before ? null : new RowReader(columns as Column[], defaultEffectiveFrom, problems);
}

/** The largest whole number a deck's seconds fit in (a PostgreSQL `integer`). */
export const MAX_WHOLE = 2_147_483_647;

/** Why a text is not a time `parseIsoTime` reads, with examples of ones it does. */
export function notAnIsoTime(value: string): string {
  return `"${value}" is not an ISO 8601 date or time with an offset (2026-12-01, 2026-12-01T00:00:00+08:00), ${TIME_RANGE}`;
}

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

type Column = (typeof RATE_DECK_COLUMNS)[number];

/** Values a deck repeats, kept while they are few: a deck of a million distinct rates gains nothing from a million entries. */
function remember<T>(seen: Map<string, T>, text: string, value: T): void {
  if (seen.size >= 10_000) seen.clear();
  seen.set(text, value);
}

/** Flags of the call-wide fields a row left empty (see `checkRows`). */
const EMPTY_ROUNDING = 1;
const EMPTY_MAX_COST = 2;

/**
 * Reads the rows of a deck whose header named `columns`. One per deck, not closures per row: a
 * million rows made five million small functions. Decimals repeat across a deck (a few rates,
 * one connect fee) and are parsed once each.
 */
class RowReader {
  readonly width: number;
  private readonly at: Partial<Record<Column, number>> = {};
  private readonly decimals = new Map<string, Rational | undefined>();
  private readonly dates = new Map<string, Date | undefined>();
  private record: readonly string[] = [];
  private line = 0;

  constructor(
    columns: readonly Column[],
    private readonly defaultEffectiveFrom: Date,
    private readonly problems: DeckProblem[],
  ) {
    this.width = columns.length;
    columns.forEach((name, index) => (this.at[name] = index));
  }

  read(record: readonly string[], line: number): { row: RateRow; emptied: number } | undefined {
    this.record = record;
    this.line = line;
    const before = this.problems.length;
    const service = (this.text('service') || 'voice') as Service;
    if (!SERVICES.includes(service)) this.problem('service', `"${service}" is not one of ${SERVICES.join(', ')}`);
    const prefix = this.text('prefix').replace(/[+\s]/g, '');
    const wrongPrefix = prefixProblem(prefix);
    if (wrongPrefix) this.problem('prefix', `"${this.text('prefix')}" ${wrongPrefix}`);

    const connectFee = this.decimal('connect_fee', '0');
    const rate = this.decimal('rate', null);
    // Left empty, the row would be left out, and its numbers priced by a shorter prefix.
    if (this.text('rate') === '') this.problem('rate', 'is required (0 for a free destination)');
    const rateUnitSeconds = this.integer('rate_unit', 60, 1);
    let firstIncrementSeconds = 1;
    let nextIncrementSeconds = 1;
    const increments = this.text('increments');
    if (increments !== '') {
      const match = /^(\d+)s?\/(\d+)s?$/.exec(increments);
      // No block longer than the longest call: billed seconds (the call rounded up to its blocks)
      // then stay within what usage records hold.
      if (!match || Number(match[1]) < 1 || Number(match[2]) < 1 || Number(match[1]) > MAX_CALL_SECONDS || Number(match[2]) > MAX_CALL_SECONDS) {
        this.problem('increments', `"${increments}" is not "first/next" in whole seconds from 1 to ${MAX_CALL_SECONDS}, such as 60/60 or 30/6`);
      } else [firstIncrementSeconds, nextIncrementSeconds] = [Number(match[1]), Number(match[2])];
    }
    const intervalStartSeconds = this.integer('interval_start', 0, 0);
    const minDurationSeconds = this.integer('min_duration', 0, 0, MAX_CALL_SECONDS);
    let rounding: Rounding = DEFAULT_ROUNDING;
    const method = this.text('rounding');
    if (method !== '') {
      if (method !== 'up' && method !== 'half_up' && method !== 'down') this.problem('rounding', `"${method}" is not up, half_up or down`);
      else rounding = { ...rounding, method };
    }
    const decimals = this.integer('rounding_decimals', rounding.decimals, 0);
    if (decimals > 6) this.problem('rounding_decimals', 'must be 0 to 6: costs are kept in micro-units');
    if (decimals !== rounding.decimals) rounding = { ...rounding, decimals: Math.min(decimals, 6) };
    const maxCost = this.decimal('max_cost', null);
    const strategy = this.text('max_cost_strategy');
    let maxCostStrategy: RateRow['maxCostStrategy'] = null;
    if (strategy !== '' && strategy !== 'free' && strategy !== 'disconnect') this.problem('max_cost_strategy', `"${strategy}" is not free or disconnect`);
    else if (strategy !== '') maxCostStrategy = strategy;
    if (maxCost && !maxCostStrategy) maxCostStrategy = 'free';
    // 0 would make every call free (with disconnect: refuse every call); CGRateS reads it as no cap.
    if (maxCost && maxCost.n === 0n) this.problem('max_cost', '0 is no cap: leave max_cost empty for none');
    let emptied = 0;
    if (method === '' && this.text('rounding_decimals') === '') emptied |= EMPTY_ROUNDING;
    if (this.text('max_cost') === '' && strategy === '') emptied |= EMPTY_MAX_COST;
    const effectiveFrom = this.date('effective_from', this.defaultEffectiveFrom)!;
    const effectiveTo = this.date('effective_to', null);
    if (effectiveTo && effectiveTo.getTime() <= effectiveFrom.getTime()) this.problem('effective_to', 'must be after effective_from');

    const destination = fromSpreadsheetCell(this.text('destination'));
    // Shown on invoices and price lists, and stored: no control characters (a NUL the database refuses).
    if (/\p{Cc}/u.test(destination)) this.problem('destination', 'holds a control character');

    if (this.problems.length > before || !rate || !connectFee) return undefined;
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
    return { row, emptied };
  }

  private text(field: Column): string {
    const at = this.at[field];
    return at === undefined ? '' : this.record[at]!.trim();
  }

  private problem(field: string, message: string): void {
    this.problems.push({ line: this.line, field, message });
  }

  private decimal(field: Column, fallback: string | null): Rational | null {
    const value = this.text(field) || fallback;
    if (value === null) return null;
    let parsed = this.decimals.get(value);
    if (parsed === undefined && !this.decimals.has(value)) remember(this.decimals, value, (parsed = parseDecimal(value)));
    if (!parsed) this.problem(field, `"${value}" is not a non-negative decimal number (up to 12 decimals)`);
    return parsed ?? null;
  }

  private integer(field: Column, fallback: number, minimum: number, maximum = MAX_WHOLE): number {
    const value = this.text(field);
    if (value === '') return fallback;
    const parsed = /^\d+s?$/.test(value) ? Number.parseInt(value, 10) : Number.NaN;
    const fits = Number.isSafeInteger(parsed) && parsed >= minimum && parsed <= maximum;
    if (!fits) this.problem(field, `"${value}" is not a whole number from ${minimum} to ${maximum}`);
    return fits ? parsed : fallback;
  }

  private date(field: Column, fallback: Date | null): Date | null {
    const value = this.text(field);
    if (value === '') return fallback;
    let parsed = this.dates.get(value);
    if (parsed === undefined && !this.dates.has(value)) remember(this.dates, value, (parsed = parseIsoTime(value)));
    if (!parsed) this.problem(field, `"${value}" is not an ISO 8601 date or time with an offset, ${TIME_RANGE}`);
    return parsed ?? fallback;
  }
}

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
  return runToEnd(checkingRows(rows));
}

/**
 * checkRows in steps. `emptied[i]` flags the call-wide fields a CSV row `rows[i]` left empty
 * (EMPTY_ROUNDING, EMPTY_MAX_COST): a later row then takes the head row's, where its parsed
 * defaults (half_up to 6, no cap) would otherwise read as a different value.
 */
function* checkingRows(rows: readonly RateRow[], emptied: readonly number[] = []): Steps<{ problems: DeckProblem[]; rows: RateRow[] }> {
  const problems: DeckProblem[] = [];
  const stored = rows.slice();
  // Most prices are one row: the group is that row's index until a second row joins it.
  const groups = new Map<string, number | number[]>();
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    if (index % ROWS_PER_STEP === 0) yield;
    if (row.service !== 'voice' && row.intervalStartSeconds !== 0) {
      problems.push({ line: row.line, field: 'interval_start', message: 'only voice rates change during a call' });
      continue;
    }
    const key = `${row.service}|${row.prefix}|${row.effectiveFrom.getTime()}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, index);
    else if (typeof group === 'number') groups.set(key, [group, index]);
    else group.push(index);
  }
  let checked = 0;
  for (const group of groups.values()) {
    if (++checked % ROWS_PER_STEP === 0) yield;
    if (typeof group === 'number') {
      const row = rows[group]!;
      if (row.intervalStartSeconds !== 0) problems.push({ line: row.line, field: 'interval_start', message: `${row.service} ${row.prefix || '(any)'} has no rate from second 0` });
      continue;
    }
    const starts = new Map<number, RateRow>();
    for (const index of group) {
      const row = rows[index]!;
      const earlier = starts.get(row.intervalStartSeconds);
      if (earlier) problems.push({ line: row.line, field: 'interval_start', message: `line ${earlier.line} already prices ${row.service} ${row.prefix || '(any)'} from second ${row.intervalStartSeconds} on the same date` });
      else starts.set(row.intervalStartSeconds, row);
    }
    const head = starts.get(0);
    if (!head) {
      const row = rows[group[0]!]!;
      problems.push({ line: row.line, field: 'interval_start', message: `${row.service} ${row.prefix || '(any)'} has no rate from second 0` });
      continue;
    }
    // The row from second 0 prices the call as a whole; a later row only changes the rate, and
    // anything else it says would be ignored without a word.
    for (const index of group) {
      const row = rows[index]!;
      if (row === head) continue;
      const empty = emptied[index] ?? 0;
      if (empty !== 0) {
        stored[index] = {
          ...row,
          ...(empty & EMPTY_ROUNDING ? { rounding: head.rounding } : {}),
          ...(empty & EMPTY_MAX_COST ? { maxCost: head.maxCost, maxCostStrategy: head.maxCostStrategy } : {}),
        };
      }
      const differs = [
        ...(row.connectFee.n !== 0n ? ['connect_fee'] : []),
        ...(row.minDurationSeconds !== 0 ? ['min_duration'] : []),
        ...(!(empty & EMPTY_ROUNDING) && (row.rounding.method !== head.rounding.method || row.rounding.decimals !== head.rounding.decimals) ? ['rounding'] : []),
        ...(!(empty & EMPTY_MAX_COST) && !sameCap(row, head) ? ['max_cost'] : []),
        // The call's price ends with the row from second 0; a later row's own end went unread,
        // and its rate was charged after it.
        ...(row.effectiveTo !== null && row.effectiveTo.getTime() !== head.effectiveTo?.getTime() ? ['effective_to'] : []),
      ];
      for (const field of differs) problems.push({ line: row.line, field, message: `only the row from second 0 (line ${head.line}) sets the call's ${field}; leave it empty or the same here` });
    }
  }
  return { problems, rows: stored };
}
