import { newId } from '../ids.ts';
import { arrayColumns, queryWith, type Queryable, type SqlParam } from '../store/database.ts';

/** Internal events: what later work (auto top-up, notifications) hangs on. */
export type EventType = 'balance.low';

export interface RingbillEvent {
  readonly id: string;
  readonly type: EventType;
  readonly organizationId: string | null;
  readonly data: Record<string, unknown>;
  readonly createdAt: Date;
}

export function newEvent(event: Omit<RingbillEvent, 'id'>): RingbillEvent {
  return { id: newId('evt'), ...event };
}

/** Inserts many events in one statement. */
export function insertEventsStatement(events: readonly RingbillEvent[], param: SqlParam): string {
  const column = arrayColumns(events, param);
  return `INSERT INTO events (id, type, organization_id, data, created_at)
     SELECT * FROM unnest(${[
       column((e) => e.id, 'text'),
       column((e) => e.type, 'text'),
       column((e) => e.organizationId, 'uuid'),
       column((e) => JSON.stringify(e.data), 'jsonb'),
       column((e) => e.createdAt, 'timestamptz'),
     ].join(', ')})`;
}

export async function insertEvents(db: Queryable, events: readonly RingbillEvent[]): Promise<void> {
  if (events.length > 0) await queryWith(db, (param) => insertEventsStatement(events, param));
}

/** Whether an event of the type was raised for the organization at or after `since`. */
export async function raisedSince(db: Queryable, type: EventType, organizationId: string, since: Date): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM events WHERE type = $1 AND organization_id = $2 AND created_at >= $3 LIMIT 1', [type, organizationId, since]);
  return result.rows.length > 0;
}

export async function listEvents(db: Queryable, filter: { type?: EventType; organizationId?: string; limit: number }): Promise<RingbillEvent[]> {
  const result = await db.query<{ id: string; type: EventType; organization_id: string | null; data: Record<string, unknown>; created_at: Date }>(
    `SELECT id, type, organization_id, data, created_at FROM events
     WHERE ($1::text IS NULL OR type = $1) AND ($2::uuid IS NULL OR organization_id = $2) ORDER BY id DESC LIMIT $3`,
    [filter.type ?? null, filter.organizationId ?? null, filter.limit],
  );
  return result.rows.map((row) => ({ id: row.id, type: row.type, organizationId: row.organization_id, data: row.data, createdAt: row.created_at }));
}
