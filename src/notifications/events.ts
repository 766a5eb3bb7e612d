import { newId } from '../ids.ts';
import type { Queryable } from '../store/database.ts';

/** Internal events: what later work (auto top-up, notifications) hangs on. */
export type EventType = 'balance.low';

export interface RingbillEvent {
  readonly id: string;
  readonly type: EventType;
  readonly organizationId: string | null;
  readonly data: Record<string, unknown>;
  readonly createdAt: Date;
}

export async function raiseEvent(db: Queryable, event: Omit<RingbillEvent, 'id'>): Promise<RingbillEvent> {
  const raised = { id: newId('evt'), ...event };
  await db.query('INSERT INTO events (id, type, organization_id, data, created_at) VALUES ($1, $2, $3, $4, $5)', [
    raised.id,
    raised.type,
    raised.organizationId,
    JSON.stringify(raised.data),
    raised.createdAt,
  ]);
  return raised;
}

export async function listEvents(db: Queryable, filter: { type?: EventType; organizationId?: string; limit: number }): Promise<RingbillEvent[]> {
  const result = await db.query<{ id: string; type: EventType; organization_id: string | null; data: Record<string, unknown>; created_at: Date }>(
    `SELECT id, type, organization_id, data, created_at FROM events
     WHERE ($1::text IS NULL OR type = $1) AND ($2::uuid IS NULL OR organization_id = $2) ORDER BY id DESC LIMIT $3`,
    [filter.type ?? null, filter.organizationId ?? null, filter.limit],
  );
  return result.rows.map((row) => ({ id: row.id, type: row.type, organizationId: row.organization_id, data: row.data, createdAt: row.created_at }));
}
