import { isStorableTime, TIME_RANGE } from '../clock/clock.ts';
import { RingbillError } from '../errors.ts';

/**
 * A time from a request (already shaped by its `date-time` schema) as a Date; a 400 naming the
 * field otherwise. The schema lets through what no Date or database holds: a leap second
 * (23:59:60 makes an invalid Date) or year 0 (out of PostgreSQL's range).
 */
export function timestampOf(text: string, field: string): Date {
  const parsed = new Date(text);
  if (!isStorableTime(parsed.getTime())) throw new RingbillError('invalid_input', `${field} "${text}" is not a time ${TIME_RANGE}`);
  return parsed;
}
