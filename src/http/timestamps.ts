import { RingbillError } from '../errors.ts';

/**
 * A time from a request (already shaped by its `date-time` schema) as a Date; a 400 naming the
 * field otherwise. The schema lets through what no Date or database holds: a leap second
 * (23:59:60 makes an invalid Date) or year 0 (out of PostgreSQL's range).
 */
export function timestampOf(text: string, field: string): Date {
  const parsed = new Date(text);
  const year = parsed.getUTCFullYear();
  if (Number.isNaN(parsed.getTime()) || year < 1 || year > 9999) throw new RingbillError('invalid_input', `${field} "${text}" is not a time from year 1 to 9999`);
  return parsed;
}
