import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock/clock.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../store/database.ts';
import type { Principal } from './principal.ts';

export interface ApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly role: 'operator' | 'organization';
  readonly organizationId: string | null;
  readonly name: string;
  readonly createdAt: Date;
}

/** A key as created: the secret is in `secret` this once and never again. */
export interface CreatedApiKey extends ApiKey {
  readonly secret: string;
}

/** The id of the operator key seeded from RINGBILL_OPERATOR_KEY; a new value replaces the old one. */
export const ENVIRONMENT_KEY_ID = 'key_environment';

// Keys are long random secrets, so one fast hash is enough: there is nothing to brute-force.
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function prefixOf(secret: string): string {
  return secret.slice(0, 14);
}

export async function createApiKey(
  db: Queryable,
  clock: Clock,
  input: { role: 'operator' } | { role: 'organization'; organizationId: string },
  name = '',
): Promise<CreatedApiKey> {
  const secret = `rb_${input.role === 'operator' ? 'op' : 'org'}_${randomBytes(24).toString('base64url')}`;
  const key: CreatedApiKey = {
    id: newId('key'),
    prefix: prefixOf(secret),
    role: input.role,
    organizationId: input.role === 'organization' ? input.organizationId : null,
    name,
    createdAt: clock.now(),
    secret,
  };
  await db.query(
    'INSERT INTO api_keys (id, secret_hash, prefix, role, organization_id, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [key.id, hashSecret(secret), key.prefix, key.role, key.organizationId, key.name, key.createdAt],
  );
  return key;
}

/** Makes `secret` the environment's operator key, replacing the one a previous start seeded. */
export async function seedEnvironmentOperatorKey(db: Queryable, clock: Clock, secret: string): Promise<void> {
  await db.query(
    `INSERT INTO api_keys (id, secret_hash, prefix, role, name, created_at) VALUES ($1, $2, $3, 'operator', 'RINGBILL_OPERATOR_KEY', $4)
     ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, prefix = EXCLUDED.prefix, revoked_at = NULL`,
    [ENVIRONMENT_KEY_ID, hashSecret(secret), prefixOf(secret), clock.now()],
  );
}

export async function hasOperatorKey(db: Queryable): Promise<boolean> {
  const result = await db.query(`SELECT 1 FROM api_keys WHERE role = 'operator' AND revoked_at IS NULL LIMIT 1`);
  return result.rows.length > 0;
}

/** Finds who a secret belongs to, or undefined for an unknown or revoked key. */
export async function authenticate(db: Queryable, secret: string): Promise<Principal | undefined> {
  const result = await db.query<{ id: string; role: 'operator' | 'organization'; organization_id: string | null }>(
    'SELECT id, role, organization_id FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL',
    [hashSecret(secret)],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return row.role === 'operator' ? { role: 'operator', keyId: row.id } : { role: 'organization', keyId: row.id, organizationId: row.organization_id! };
}
