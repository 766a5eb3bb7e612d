import { createHash, randomBytes } from 'node:crypto';
import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { newId } from '../ids.ts';
import { failure, type Result } from '../errors.ts';
import type { Database, Queryable } from '../store/database.ts';
import type { Principal } from './principal.ts';

export interface ApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly role: 'operator' | 'organization';
  readonly organizationId: string | null;
  readonly name: string;
  readonly createdAt: Date;
  readonly revokedAt?: Date | null;
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

/**
 * Makes `secret` the environment's operator key, replacing the one a previous start seeded.
 * Answers false when that very secret was revoked: a revoked key stays revoked, whatever the
 * environment still says or says again (a leaked key must not come back at the next restart,
 * nor when a service file is rolled back to it); a new secret is a new key.
 */
export async function seedEnvironmentOperatorKey(db: Queryable, clock: Clock, secret: string): Promise<boolean> {
  const hash = hashSecret(secret);
  const known = await db.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE secret_hash = $1', [hash]);
  const other = known.rows[0];
  if (other?.revoked) return false;
  // Another key's secret (one made with `api-keys create`, maybe an organization's) cannot also
  // be the environment's: it would be one secret with two roles.
  if (other && other.id !== ENVIRONMENT_KEY_ID) throw new EnvironmentKeyTaken(other.id);
  // A revoked environment key the variable no longer holds is kept, under an id of its own, so
  // that its secret is still known for revoked if the variable goes back to it.
  await db.query("UPDATE api_keys SET id = id || ':revoked:' || substr(secret_hash, 1, 8) WHERE id = $1 AND revoked_at IS NOT NULL", [ENVIRONMENT_KEY_ID]);
  await db.query(
    `INSERT INTO api_keys (id, secret_hash, prefix, role, name, created_at) VALUES ($1, $2, $3, 'operator', 'RINGBILL_OPERATOR_KEY', $4)
     ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, prefix = EXCLUDED.prefix`,
    // Not its first characters: a key chosen by hand may be only 16 long, and lists show the prefix.
    [ENVIRONMENT_KEY_ID, hash, `env:${hash.slice(0, 8)}`, clock.now()],
  );
  return true;
}

export class EnvironmentKeyTaken extends Error {
  constructor(readonly keyId: string) {
    super(`RINGBILL_OPERATOR_KEY holds the secret of the API key ${keyId}: choose a secret of its own for it`);
    this.name = 'EnvironmentKeyTaken';
  }
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

interface ApiKeyRow {
  id: string;
  prefix: string;
  role: 'operator' | 'organization';
  organization_id: string | null;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

const KEY_COLUMNS = 'id, prefix, role, organization_id, name, created_at, revoked_at';

function toApiKey(row: ApiKeyRow): ApiKey {
  return { id: row.id, prefix: row.prefix, role: row.role, organizationId: row.organization_id, name: row.name, createdAt: row.created_at, revokedAt: row.revoked_at };
}

/** The keys, newest first: all, or one organization's. Revoked ones too, with when. */
export async function listApiKeys(db: Queryable, filter: { organizationId?: string }): Promise<ApiKey[]> {
  const result = filter.organizationId
    ? await db.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC, id DESC`, [filter.organizationId])
    : await db.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC`);
  return result.rows.map(toApiKey);
}

/**
 * Revokes a key: it stops working at once in this process and within the lookup cache's seconds
 * in others. Revoking a revoked key answers it as it was. The last working operator key is kept:
 * without one, only the command line could let anyone in again.
 */
export async function revokeApiKey(db: Database, clock: Clock, id: string, actor: string): Promise<Result<ApiKey, 'not_found' | 'last_operator_key'>> {
  return db.transaction(async (tx) => {
    const found = await tx.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
    const row = found.rows[0];
    if (!row) return failure('not_found', `No API key ${id}.`);
    if (row.revoked_at) return { ok: true, value: toApiKey(row) };
    if (row.role === 'operator') {
      // Locked, so that two revocations at once cannot each leave the other's key as the last.
      const others = await tx.query(`SELECT id FROM api_keys WHERE role = 'operator' AND revoked_at IS NULL AND id <> $1 ORDER BY id FOR UPDATE`, [id]);
      if (others.rows.length === 0) return failure('last_operator_key');
    }
    const revoked = toApiKey((await tx.query<ApiKeyRow>(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1 RETURNING ${KEY_COLUMNS}`, [id, clock.now()])).rows[0]!);
    await writeAudit(tx, {
      organizationId: revoked.organizationId,
      actor,
      action: 'api_key.revoked',
      before: null,
      after: { id: revoked.id, prefix: revoked.prefix, role: revoked.role, name: revoked.name },
      at: revoked.revokedAt!,
    });
    return { ok: true, value: revoked };
  });
}
