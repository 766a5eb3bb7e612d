/**
 * The one source of time. Nothing else reads the system clock or asks the database for now(),
 * but for whether a staged deck's import is alive, a matter of the database's clock that every
 * process shares (rate-deck-store.ts, decisions.md).
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/**
 * A clock that only moves when told to, like Stripe's test clocks. It starts at the time it
 * is given (or the real time) and never goes backwards.
 */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves to `to`; refuses to go back, since holds and limits already expired cannot un-expire. */
  set(to: Date): void {
    if (to.getTime() < this.current) throw new RangeError(`the test clock cannot go back from ${this.now().toISOString()} to ${to.toISOString()}`);
    this.current = to.getTime();
  }

  advanceSeconds(seconds: number): void {
    this.set(new Date(this.current + seconds * 1000));
  }
}

export function addSeconds(time: Date, seconds: number): Date {
  return new Date(time.getTime() + seconds * 1000);
}

/**
 * The instants Ringbill keeps: years 1 to 9999 in UTC, the four-digit years of ISO 8601 and of
 * PostgreSQL's text. A time written with an offset can be in 9999 where written and in 10000 in
 * UTC ("9999-12-31T23:30:00-05:00"), which no column takes.
 */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
export const DAY_MS = 86_400_000;

export const TIME_RANGE = 'from year 1 to 9999 in UTC';
export const USAGE_TIME_RANGE = 'from 0001-01-02 to 9999-12-30 in UTC';

export function isStorableTime(ms: number): boolean {
  return ms >= EARLIEST && ms <= LATEST;
}

/**
 * An instant usage may start at: a day inside the stored years, so that its bill period (its
 * month in the organization's zone, at most 14 hours away) is in them too.
 */
export function isUsageTime(ms: number): boolean {
  return ms >= EARLIEST + DAY_MS && ms <= LATEST - DAY_MS;
}

/**
 * Milliseconds of a UTC date and time given by its fields, or NaN for one that does not exist
 * (2026-02-30, 25:00). Not `Date.UTC`, which takes years 0-99 for 1900-1999.
 */
export function utcTime(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  return exists ? date.getTime() : Number.NaN;
}

