import type { FastifyRequest } from 'fastify';
import { authenticate, hashSecret } from '../auth/api-keys.ts';
import { canSeeOrganization, type Principal } from '../auth/principal.ts';
import { RingbillError } from '../errors.ts';
import { ExpiringCache } from '../expiring-cache.ts';
import type { Queryable } from '../store/database.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const CACHE_SECONDS = 10;
const CACHE_LIMIT = 10_000;

/**
 * Resolves bearer keys to principals. Lookups are cached for a few seconds so that the charging
 * path does not pay a query per request; a revoked key so stops working within that time.
 */
export class KeyResolver {
  private readonly cache = new ExpiringCache<string, Principal | undefined>(CACHE_SECONDS * 1000, CACHE_LIMIT);

  constructor(private readonly db: Queryable) {}

  async resolve(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new RingbillError('unauthenticated');
    const principal = await this.cache.get(hashSecret(match[1]!), () => authenticate(this.db, match[1]!));
    if (!principal) throw new RingbillError('unauthenticated', 'This API key is not valid.');
    return principal;
  }

  /** Forgets every cached lookup: after a revocation, so that this process refuses the key at once. */
  forget(): void {
    this.cache.clear();
  }
}

export function requireOperator(request: FastifyRequest): void {
  // Every /v1 route has a principal; none here means a route the key check missed: refuse it.
  if (!request.principal) throw new RingbillError('unauthenticated');
  if (request.principal.role !== 'operator') throw new RingbillError('forbidden', 'Only the provider’s operator keys may do this.');
}

/** Another tenant's organization answers exactly as a missing one does. */
export function requireOrganization(request: FastifyRequest, organizationId: string | null): void {
  if (!request.principal) throw new RingbillError('unauthenticated');
  if (!canSeeOrganization(request.principal, organizationId)) throw new RingbillError('organization_not_found');
}
