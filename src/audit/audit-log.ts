import { newId } from '../ids.ts';
import type { Queryable } from '../store/database.ts';

/** What operators changed, and what the system changed on its own. */
export type AuditAction =
  | 'organization.created'
  | 'organization.updated'
  | 'billing_profile.updated'
  | 'credit_limit.set'
  | 'credit_limit.expired'
  | 'adjustment.created'
  | 'payment.recorded'
  | 'api_key.created'
  | 'api_key.revoked';

export interface AuditEntry {
  readonly id: string;
  readonly organizationId: string | null;
  /** An API key id, `system` for scheduled work, or `cli`. */
  readonly actor: string;
  readonly action: AuditAction;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  readonly at: Date;
}

/** Writes an entry; callers pass their transaction so the entry and the change commit together. */
export async function writeAudit(db: Queryable, entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
  const written = { id: newId('aud'), ...entry };
  await db.query('INSERT INTO audit_log (id, organization_id, actor, action, before, after, at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    written.id,
    written.organizationId,
    written.actor,
    written.action,
    written.before === null ? null : JSON.stringify(written.before),
    written.after === null ? null : JSON.stringify(written.after),
    written.at,
  ]);
  return written;
}

/** Entries newest first, optionally for one organization, before the `before` id when given. */
export async function listAudit(db: Queryable, filter: { organizationId?: string; before?: string; limit: number }): Promise<AuditEntry[]> {
  const result = await db.query<{
    id: string;
    organization_id: string | null;
    actor: string;
    action: AuditAction;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    at: Date;
  }>(
    `SELECT id, organization_id, actor, action, before, after, at FROM audit_log
     WHERE ($1::uuid IS NULL OR organization_id = $1) AND ($2::text IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [filter.organizationId ?? null, filter.before ?? null, filter.limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    organizationId: row.organization_id,
    actor: row.actor,
    action: row.action,
    before: row.before,
    after: row.after,
    at: row.at,
  }));
}
