import { RingbillError } from '../errors.ts';
import { parseMicros } from '../money/index.ts';

/**
 * The largest amount one request may name: 100,000,000,000 units. Shared provider accounts add
 * up every organization's money, and one request near a BIGINT's limit would fill them.
 */
export const MAX_REQUEST_MICROS = 10n ** 17n;

/** An amount from a request body (already shaped by its schema) as micro-units; a 400 naming the field otherwise. */
export function amountOf(text: string, field: string): bigint {
  const parsed = parseMicros(text);
  if (!parsed.ok) throw new RingbillError('invalid_amount', `${field} ${parsed.reason}`);
  if (parsed.value > MAX_REQUEST_MICROS || -parsed.value > MAX_REQUEST_MICROS) throw new RingbillError('invalid_amount', `${field} "${text}" is more than 100000000000, the most one request may name`);
  return parsed.value;
}
