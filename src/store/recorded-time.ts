import type { Queryable } from './database.ts';

/**
 * The latest instant the database recorded anything at (a transfer, a session's step, an audit
 * entry), or undefined when it is empty: where a test clock starts again after a restart, so
 * that its time never goes back behind what it stamped before.
 */
export async function latestRecordedTime(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ latest: Date | null }>(
    `SELECT greatest((SELECT max(created_at) FROM ledger_transfers), (SELECT max(updated_at) FROM charging_sessions), (SELECT max(at) FROM audit_log)) AS latest`,
  );
  return result.rows[0]?.latest ?? undefined;
}
