import type { Rational } from './rational.ts';
import type { RatePlan, RateRow, Rounding, Service } from './rate-plan.ts';
import { grown } from '../typed-arrays.ts';
import { dialledDigits } from './dialled-number.ts';

const SERVICE_CODES: readonly Service[] = ['voice', 'sms', 'fax', 'number_activation'];
const METHODS: readonly Rounding['method'][] = ['up', 'half_up', 'down'];
const STRATEGIES: readonly RateRow['maxCostStrategy'][] = [null, 'free', 'disconnect'];
/** Every rounding a row can have, made once: 3 methods x 7 decimals. */
const ROUNDINGS: readonly Rounding[] = METHODS.flatMap((method) => [0, 1, 2, 3, 4, 5, 6].map((decimals) => ({ method, decimals })));
const NO_END = Number.POSITIVE_INFINITY;
/** Prefixes up to this many digits are found by number, longer ones by text. */
const NUMERIC_DIGITS = 13;

/** A prefix of up to NUMERIC_DIGITS digits as a map key: its value and its length ("01" is not "1"). */
function numericKey(value: number, length: number): number {
  return value * 16 + length;
}

function numericKeyOf(prefix: string): number {
  let value = 0;
  for (let index = 0; index < prefix.length; index++) value = value * 10 + (prefix.charCodeAt(index) - 0x30);
  return numericKey(value, prefix.length);
}

/**
 * A deck version held in memory for lookups: for each service, a map from prefix to the price
 * versions of that prefix (newest first). A number is matched by trying its prefixes from the
 * longest, so a lookup is at most one map probe per digit.
 *
 * A deck of 300,000 prefixes is kept in columns (typed arrays, shared rationals, dates and
 * destination names) rather than as 300,000 row objects: that is about a quarter of the memory,
 * and one process may hold a few versions. The rows of a plan are made again on each lookup,
 * which costs less than keeping them.
 */
export class CompiledDeck {
  /**
   * For each service, the newest price version of each prefix. Numbers hash and compare faster
   * than texts, and probing needs no slices of the number: the map a lookup probes up to once
   * per digit holds prefixes as numbers, and only longer prefixes (rare) as texts.
   */
  private readonly prefixes = SERVICE_CODES.map(() => new Map<number, number>());
  private readonly longPrefixes = SERVICE_CODES.map(() => new Map<string, number>());
  private readonly longest = SERVICE_CODES.map(() => 0);
  /** The values of a number's first digits, for one lookup at a time. */
  private readonly values = new Float64Array(NUMERIC_DIGITS + 1);

  // Rows, by row number.
  private rowCount = 0;
  private line: Int32Array;
  private service: Uint8Array;
  private rounding: Uint8Array;
  private strategy: Uint8Array;
  private rateUnit: Int32Array;
  private firstIncrement: Int32Array;
  private nextIncrement: Int32Array;
  private intervalStart: Int32Array;
  private minDuration: Int32Array;
  private effectiveFrom: Float64Array;
  /** NaN: open. */
  private effectiveTo: Float64Array;
  private destination: string[] = [];
  private connectFee: Rational[] = [];
  private rate: Rational[] = [];
  private maxCost: (Rational | null)[] = [];

  // Price versions (the rows of one prefix from one date), by version number.
  private versionCount = 0;
  private versionFrom: Float64Array;
  private versionTo: Float64Array;
  /** The next older version of the same prefix, or -1. */
  private versionNext: Int32Array;
  /** The version's only row, or -1 when it has several (see `versionRows`). */
  private versionRow: Int32Array;
  private readonly versionRows = new Map<number, number[]>();

  private readonly dates = new Map<number, Date>();
  private sealed = false;

  /** `rows` in any order; more can be added with `add` until the first lookup. */
  constructor(rows: readonly RateRow[] = [], capacity = rows.length) {
    const size = Math.max(capacity, 16);
    this.line = new Int32Array(size);
    this.service = new Uint8Array(size);
    this.rounding = new Uint8Array(size);
    this.strategy = new Uint8Array(size);
    this.rateUnit = new Int32Array(size);
    this.firstIncrement = new Int32Array(size);
    this.nextIncrement = new Int32Array(size);
    this.intervalStart = new Int32Array(size);
    this.minDuration = new Int32Array(size);
    this.effectiveFrom = new Float64Array(size);
    this.effectiveTo = new Float64Array(size);
    this.versionFrom = new Float64Array(size);
    this.versionTo = new Float64Array(size);
    this.versionNext = new Int32Array(size);
    this.versionRow = new Int32Array(size);
    for (const row of rows) this.add(row);
  }

  /** Adds a row: the rows of one (service, prefix, effective_from) together price a call. */
  add(row: RateRow): void {
    if (this.sealed) throw new Error('a compiled deck takes no rows after its first lookup');
    if (this.rowCount === this.line.length) this.growRows();
    const r = this.rowCount++;
    const service = SERVICE_CODES.indexOf(row.service);
    const from = row.effectiveFrom.getTime();
    this.line[r] = row.line;
    this.service[r] = service;
    this.rounding[r] = METHODS.indexOf(row.rounding.method) * 7 + row.rounding.decimals;
    this.strategy[r] = STRATEGIES.indexOf(row.maxCostStrategy);
    this.rateUnit[r] = row.rateUnitSeconds;
    this.firstIncrement[r] = row.firstIncrementSeconds;
    this.nextIncrement[r] = row.nextIncrementSeconds;
    this.intervalStart[r] = row.intervalStartSeconds;
    this.minDuration[r] = row.minDurationSeconds;
    this.effectiveFrom[r] = from;
    this.effectiveTo[r] = row.effectiveTo ? row.effectiveTo.getTime() : Number.NaN;
    // Decks list a destination's prefixes together: one name for a run of rows.
    const previous = this.destination[r - 1];
    this.destination.push(previous === row.destination ? previous : row.destination);
    this.connectFee.push(row.connectFee);
    this.rate.push(row.rate);
    this.maxCost.push(row.maxCost);
    if (!this.dates.has(from)) this.dates.set(from, row.effectiveFrom);
    if (row.effectiveTo && !this.dates.has(this.effectiveTo[r]!)) this.dates.set(this.effectiveTo[r]!, row.effectiveTo);

    // Versions of a prefix are chained newest first.
    const numeric = row.prefix.length <= NUMERIC_DIGITS;
    const key = numeric ? numericKeyOf(row.prefix) : 0;
    const first = numeric ? this.prefixes[service]!.get(key) : this.longPrefixes[service]!.get(row.prefix);
    let version = first ?? -1;
    let newer = -1;
    while (version !== -1 && this.versionFrom[version]! > from) {
      newer = version;
      version = this.versionNext[version]!;
    }
    if (version !== -1 && this.versionFrom[version] === from) {
      const only = this.versionRow[version]!;
      if (only === -1) this.versionRows.get(version)!.push(r);
      else {
        this.versionRows.set(version, [only, r]);
        this.versionRow[version] = -1;
      }
      return;
    }
    if (this.versionCount === this.versionFrom.length) this.growVersions();
    const added = this.versionCount++;
    this.versionFrom[added] = from;
    this.versionNext[added] = version;
    this.versionRow[added] = r;
    if (newer !== -1) this.versionNext[newer] = added;
    else if (numeric) this.prefixes[service]!.set(key, added);
    else this.longPrefixes[service]!.set(row.prefix, added);
    if (row.prefix.length > this.longest[service]!) this.longest[service] = row.prefix.length;
  }

  /** The rate plan for `number` at `at`: the longest prefix with a price in force then. */
  plan(service: Service, number: string, at: Date): RatePlan | undefined {
    if (!this.sealed) this.seal();
    const code = SERVICE_CODES.indexOf(service);
    if (code === -1) return undefined;
    const digits = dialledDigits(number);
    // A destination without a digit ("s", an Asterisk dialplan extension) is no number, and the
    // row for any number must not price it; an empty one may be a fax page or an activation,
    // never a call.
    if (digits === '' && (number.trim() !== '' || service === 'voice')) return undefined;
    const time = at.getTime();
    const top = Math.min(digits.length, this.longest[code]!);
    const long = this.longPrefixes[code]!;
    for (let length = top; length > NUMERIC_DIGITS; length--) {
      const version = this.inForce(long.get(length === digits.length ? digits : digits.slice(0, length)), time);
      if (version !== -1) return this.planOf(version, length === digits.length ? digits : digits.slice(0, length));
    }
    const short = Math.min(top, NUMERIC_DIGITS);
    const values = this.values;
    for (let index = 0; index < short; index++) values[index + 1] = values[index]! * 10 + (digits.charCodeAt(index) - 0x30);
    const prefixes = this.prefixes[code]!;
    for (let length = short; length >= 0; length--) {
      const version = this.inForce(prefixes.get(numericKey(values[length]!, length)), time);
      if (version !== -1) return this.planOf(version, length === digits.length ? digits : digits.slice(0, length));
    }
    return undefined;
  }

  get size(): number {
    let total = 0;
    for (const prefixes of this.prefixes) total += prefixes.size;
    for (const prefixes of this.longPrefixes) total += prefixes.size;
    return total;
  }

  /** Of a prefix's versions (newest first, from `version`), the one in force at `time`, or -1. */
  private inForce(version: number | undefined, time: number): number {
    while (version !== undefined && version !== -1) {
      if (this.versionFrom[version]! <= time && time < this.versionTo[version]!) return version;
      version = this.versionNext[version];
    }
    return -1;
  }

  /** Orders each version's rows by interval start and works out until when it is in force. */
  private seal(): void {
    this.sealed = true;
    for (const rows of this.versionRows.values()) {
      // A valid deck has one row per interval start; the line decides otherwise, whatever order rows came in.
      rows.sort((a, b) => this.intervalStart[a]! - this.intervalStart[b]! || this.line[a]! - this.line[b]!);
    }
    for (let version = 0; version < this.versionCount; version++) {
      const head = this.versionRow[version] === -1 ? this.versionRows.get(version)![0]! : this.versionRow[version]!;
      const to = this.effectiveTo[head]!;
      this.versionTo[version] = Number.isNaN(to) ? NO_END : to;
    }
  }

  private planOf(version: number, prefix: string): RatePlan {
    const only = this.versionRow[version]!;
    if (only !== -1) return { prefix, destination: this.destination[only]!, rows: [this.rowOf(only, prefix)] };
    const rows = this.versionRows.get(version)!;
    return { prefix, destination: this.destination[rows[0]!]!, rows: rows.map((r) => this.rowOf(r, prefix)) };
  }

  private rowOf(r: number, prefix: string): RateRow {
    const to = this.effectiveTo[r]!;
    return {
      line: this.line[r]!,
      service: SERVICE_CODES[this.service[r]!]!,
      prefix,
      destination: this.destination[r]!,
      connectFee: this.connectFee[r]!,
      rate: this.rate[r]!,
      rateUnitSeconds: this.rateUnit[r]!,
      firstIncrementSeconds: this.firstIncrement[r]!,
      nextIncrementSeconds: this.nextIncrement[r]!,
      intervalStartSeconds: this.intervalStart[r]!,
      minDurationSeconds: this.minDuration[r]!,
      rounding: ROUNDINGS[this.rounding[r]!]!,
      maxCost: this.maxCost[r]!,
      maxCostStrategy: STRATEGIES[this.strategy[r]!]!,
      effectiveFrom: this.date(this.effectiveFrom[r]!),
      effectiveTo: Number.isNaN(to) ? null : this.date(to),
    };
  }

  /** One Date per instant: a deck has few distinct dates and many rows. */
  private date(time: number): Date {
    let date = this.dates.get(time);
    if (!date) this.dates.set(time, (date = new Date(time)));
    return date;
  }

  private growRows(): void {
    const size = this.line.length * 2;
    this.line = grown(this.line, size);
    this.service = grown(this.service, size);
    this.rounding = grown(this.rounding, size);
    this.strategy = grown(this.strategy, size);
    this.rateUnit = grown(this.rateUnit, size);
    this.firstIncrement = grown(this.firstIncrement, size);
    this.nextIncrement = grown(this.nextIncrement, size);
    this.intervalStart = grown(this.intervalStart, size);
    this.minDuration = grown(this.minDuration, size);
    this.effectiveFrom = grown(this.effectiveFrom, size);
    this.effectiveTo = grown(this.effectiveTo, size);
  }

  private growVersions(): void {
    const size = this.versionFrom.length * 2;
    this.versionFrom = grown(this.versionFrom, size);
    this.versionTo = grown(this.versionTo, size);
    this.versionNext = grown(this.versionNext, size);
    this.versionRow = grown(this.versionRow, size);
  }
}
