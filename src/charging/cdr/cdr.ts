import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Service } from '../../rating/rate-plan.ts';

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

/** A local date-time as switches write it ("2026-11-02 09:15:04"), read in the switch's zone. */
export function parseSwitchTime(text: string, timeZone: string): Date | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const fast = LOCAL_TIME.exec(trimmed);
  if (fast) {
    const [, year, month, day, hour, minute, second] = fast.map(Number) as [number, number, number, number, number, number, number];
    const local = Date.UTC(year, month - 1, day, hour, minute, second);
    // Date.UTC rolls over out-of-range fields (month 13); a real time round-trips.
    const check = new Date(local);
    if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || check.getUTCHours() !== hour || minute > 59 || second > 59) return undefined;
    if (timeZone === 'UTC') return check;
    const key = `${timeZone}\u0000${trimmed.slice(0, 13)}`;
    let offset = offsets.get(key);
    if (offset === undefined) {
      const zoned = DateTime.fromObject({ year, month, day, hour, minute: 0, second: 0 }, { zone: timeZone });
      if (!zoned.isValid) return undefined;
      offset = zoned.offset * 60_000;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(key, offset);
    }
    return new Date(local - offset);
  }
  const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed);
  const parsed = withZone ? DateTime.fromISO(trimmed.replace(' ', 'T'), { setZone: true }) : DateTime.fromSQL(trimmed, { zone: timeZone });
  const fallback = parsed.isValid ? parsed : DateTime.fromISO(trimmed, { zone: timeZone });
  return fallback.isValid ? fallback.toJSDate() : undefined;
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
