import { createHash } from 'node:crypto';
import { DateTime, IANAZone } from 'luxon';
import type { Service } from '../../rating/rate-plan.ts';
import { DAY_MS, utcTime } from '../../clock/clock.ts';

export type CdrFormat = 'asterisk' | 'freeswitch' | 'ringbill';
export const CDR_FORMATS: readonly CdrFormat[] = ['asterisk', 'freeswitch', 'ringbill'];

/** A call detail record, whatever switch wrote it. */
export interface Cdr {
  readonly line: number;
  /** The organization's account code, or its wallet ID. */
  readonly accountCode: string;
  readonly destination: string;
  readonly startedAt: Date;
  readonly service: Service;
  /** Billable seconds (voice), or messages / pages / activations. */
  readonly quantity: number;
  /** The switch's id for the record (uniqueid, uuid), else a fingerprint of the line: nothing is charged twice. */
  readonly externalId: string;
}

/** A line that is a CDR, a line that is not one (with why), or an unanswered call. */
export type CdrLine = { kind: 'cdr'; cdr: Cdr } | { kind: 'malformed'; line: number; reason: string } | { kind: 'unanswered'; line: number; externalId: string };

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/;
/** Offsets of zones by local hour, worked out once each: a CDR file has millions of times in few hours. */
const offsets = new Map<string, number>();

/**
 * The instant a local time names in a zone, the time given as milliseconds whose UTC fields are
 * the local ones. A time the zone has twice (the hour clocks go back) is its first occurrence; a
 * time it skips (the hour clocks go forward) is read with the offset before the change, so that
 * 02:30 on a night New York skips 02:00-03:00 is 03:30 daylight time. These are the rules of
 * RFC 5545 and of Temporal's "compatible", the same whichever side of UTC the zone is on.
 */
export function zonedInstant(local: number, zone: IANAZone): number {
  const before = zone.offset(local - DAY_MS);
  const after = zone.offset(local + DAY_MS);
  const earliest = [before, after]
    .map((offset) => local - offset * 60_000)
    .filter((instant) => local - zone.offset(instant) * 60_000 === instant)
    .reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  return earliest !== Number.POSITIVE_INFINITY ? earliest : local - before * 60_000;
}

/** A local date-time as switches write it ("2026-11-02 09:15:04"), read in the switch's zone. */
export function parseSwitchTime(text: string, timeZone: string): Date | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const fast = LOCAL_TIME.exec(trimmed);
  const zone = IANAZone.create(timeZone);
  if (fast) {
    const [, year, month, day, hour, minute, second] = fast.map(Number) as [number, number, number, number, number, number, number];
    const local = utcTime(year, month, day, hour, minute, second);
    if (Number.isNaN(local)) return undefined;
    if (timeZone === 'UTC') return new Date(local);
    if (!zone.isValid) return undefined;
    const key = `${timeZone}\u0000${trimmed.slice(0, 13)}`;
    let offset = offsets.get(key);
    if (offset === undefined) {
      // An offset that changes within the hour (Chatham's 03:45, Lord Howe's half hour) makes it
      // an hour whose times are each worked out on their own.
      const hourStart = local - minute * 60_000 - second * 1000;
      const start = zonedInstant(hourStart, zone);
      offset = zonedInstant(hourStart + 3_599_000, zone) === start + 3_599_000 ? hourStart - start : Number.NaN;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(key, offset);
    }
    return new Date(Number.isNaN(offset) ? zonedInstant(local, zone) : local - offset);
  }
  const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed);
  if (withZone) {
    const parsed = DateTime.fromISO(trimmed.replace(' ', 'T'), { setZone: true });
    return parsed.isValid ? parsed.toJSDate() : undefined;
  }
  if (!zone.isValid) return undefined;
  // Other forms without an offset: their fields, read as UTC, then put in the zone as above.
  const fields = DateTime.fromSQL(trimmed, { zone: 'UTC' });
  const local = fields.isValid ? fields : DateTime.fromISO(trimmed, { zone: 'UTC' });
  return local.isValid ? new Date(zonedInstant(local.toMillis(), zone)) : undefined;
}

/** In `SwitchTimes.hours`: the hour is not in the usual form, so `parseSwitchTime` reads the whole text. */
const UNUSUAL = Number.NEGATIVE_INFINITY;

/**
 * Reads many switch times in one zone, exactly as `parseSwitchTime` does, faster: the usual form
 * ("2026-11-02 09:15:04", 19 characters) is read as its hour, worked out once (with the zone's
 * offset, which `parseSwitchTime` also takes per hour), plus minutes and seconds.
 */
export class SwitchTimes {
  /** Milliseconds at the start of a local hour ("2026-11-02 09"); NaN for no such hour. */
  private readonly hours = new Map<string, number>();

  constructor(private readonly timeZone: string) {}

  /** Milliseconds since the epoch; NaN when the text is not a date and time. */
  parse(text: string): number {
    if (text.length === 19) {
      const minutes = twoDigits(text, 14);
      const seconds = twoDigits(text, 17);
      if (minutes >= 0 && seconds >= 0 && text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a) {
        const hour = text.slice(0, 13);
        let start = this.hours.get(hour);
        if (start === undefined) {
          if (this.hours.size > 100_000) this.hours.clear();
          const whole = `${hour}:00:00`;
          start = LOCAL_TIME.test(whole) ? (parseSwitchTime(whole, this.timeZone)?.getTime() ?? Number.NaN) : UNUSUAL;
          // An hour whose offset changes within it is read time by time.
          if (!Number.isNaN(start) && start !== UNUSUAL && parseSwitchTime(`${hour}:59:59`, this.timeZone)?.getTime() !== start + 3_599_000) start = UNUSUAL;
          this.hours.set(hour, start);
        }
        if (start !== UNUSUAL) {
          // As parseSwitchTime: a real hour, minutes and seconds up to 59.
          if (Number.isNaN(start) || minutes > 59 || seconds > 59) return Number.NaN;
          return start + minutes * 60_000 + seconds * 1000;
        }
      }
    }
    return parseSwitchTime(text, this.timeZone)?.getTime() ?? Number.NaN;
  }
}

/** Two ASCII digits at `at` as a number, else -1. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 0x30;
  const ones = text.charCodeAt(at + 1) - 0x30;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

export function parseCount(text: string | undefined): number | undefined {
  const trimmed = (text ?? '').trim();
  if (!/^\d{1,9}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** For records without an id of their own: the same line always gives the same id. */
export function fingerprint(fields: readonly string[]): string {
  return `line:${createHash('sha256').update(fields.join('\u001f')).digest('base64url').slice(0, 32)}`;
}
