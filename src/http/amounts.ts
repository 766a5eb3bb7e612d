import { RingbillError } from '../errors.ts';
import { parseMicros } from '../money/index.ts';

/** An amount from a request body (already shaped by its schema) as micro-units; a 400 naming the field otherwise. */
export function amountOf(text: string, field: string): bigint {
  const parsed = parseMicros(text);
  if (!parsed.ok) throw new RingbillError('invalid_amount', `${field} ${parsed.reason}`);
  return parsed.value;
}
