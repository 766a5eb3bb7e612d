import type { FastifyRequest } from 'fastify';
import { idempotencyScope } from '../auth/principal.ts';
import { RingbillError } from '../errors.ts';
import type { IdempotencyKey } from '../ledger/types.ts';

/** The request's Idempotency-Key, scoped to its caller; money-moving routes refuse to run without one. */
export function idempotencyKey(request: FastifyRequest): IdempotencyKey {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key.length === 0) throw new RingbillError('idempotency_key_required');
  return { scope: idempotencyScope(request.principal), key };
}
