import type { Queryable, SqlValue } from '../store/database.ts';
import { formatDecimal, parseDecimal, type Rational } from '../rating/rational.ts';
import type { RatePlan, RateRow } from '../rating/rate-plan.ts';
import type { ChargingSession } from './session.ts';

const COLUMNS = `id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id, rate_plan,
  interval_seconds, ttl_seconds, state, end_reason, used_seconds, granted_seconds, posted_amount, hold_id, hold_amount, cost,
  billed_seconds, version, started_at, updated_at, expires_at, ended_at`;

interface SessionRow {
  id: string;
  organization_id: string;
  call_id: string;
  service: 'voice';
  destination: string;
  prefix: string;
  destination_name: string;
  rate_deck_version_id: string;
  rate_plan: StoredPlan;
  interval_seconds: number;
  ttl_seconds: number;
  state: 'active' | 'ended';
  end_reason: 'terminated' | 'expired' | null;
  used_seconds: number;
  granted_seconds: number;
  posted_amount: bigint;
  hold_id: string | null;
  hold_amount: bigint;
  cost: bigint | null;
  billed_seconds: number | null;
  version: number;
  started_at: Date;
  updated_at: Date;
  expires_at: Date;
  ended_at: Date | null;
}

type StoredRow = Omit<RateRow, 'connectFee' | 'rate' | 'maxCost' | 'effectiveFrom' | 'effectiveTo'> & {
  connectFee: string;
  rate: string;
  maxCost: string | null;
  effectiveFrom: string;
  effectiveTo: string | null;
};
type StoredPlan = { prefix: string; destination: string; rows: StoredRow[] };

/** The plan as JSON: rationals as exact decimal text. */
function storePlan(plan: RatePlan): StoredPlan {
  return {
    prefix: plan.prefix,
    destination: plan.destination,
    rows: plan.rows.map((row) => ({
      ...row,
      connectFee: formatDecimal(row.connectFee),
      rate: formatDecimal(row.rate),
      maxCost: row.maxCost ? formatDecimal(row.maxCost) : null,
      effectiveFrom: row.effectiveFrom.toISOString(),
      effectiveTo: row.effectiveTo?.toISOString() ?? null,
    })),
  };
}

function loadPlan(stored: StoredPlan): RatePlan {
  const decimal = (text: string): Rational => parseDecimal(text)!;
  return {
    prefix: stored.prefix,
    destination: stored.destination,
    rows: stored.rows.map((row) => ({
      ...row,
      connectFee: decimal(row.connectFee),
      rate: decimal(row.rate),
      maxCost: row.maxCost === null ? null : decimal(row.maxCost),
      effectiveFrom: new Date(row.effectiveFrom),
      effectiveTo: row.effectiveTo === null ? null : new Date(row.effectiveTo),
    })),
  };
}

function toSession(row: SessionRow): ChargingSession {
  return {
    id: row.id,
    organizationId: row.organization_id,
    callId: row.call_id,
    service: row.service,
    destination: row.destination,
    prefix: row.prefix,
    destinationName: row.destination_name,
    rateDeckVersionId: row.rate_deck_version_id,
    plan: loadPlan(row.rate_plan),
    intervalSeconds: row.interval_seconds,
    ttlSeconds: row.ttl_seconds,
    state: row.state,
    endReason: row.end_reason,
    usedSeconds: row.used_seconds,
    grantedSeconds: row.granted_seconds,
    postedAmount: row.posted_amount,
    holdId: row.hold_id,
    holdAmount: row.hold_amount,
    cost: row.cost,
    billedSeconds: row.billed_seconds,
    version: row.version,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    endedAt: row.ended_at,
  };
}

/** The columns a session's life moves: shared by insert and save. */
const STATE_COLUMNS = `state, end_reason, used_seconds, granted_seconds, posted_amount, hold_id, hold_amount, cost, billed_seconds,
  version, updated_at, expires_at, ended_at`;

const STATE_NAMES = STATE_COLUMNS.split(',').map((name) => name.trim());
/** The SQL types of STATE_COLUMNS, in order, for the arrays a multi-row write unnests. */
const STATE_TYPES = ['text', 'text', 'int', 'int', 'bigint', 'text', 'bigint', 'bigint', 'int', 'int', 'timestamptz', 'timestamptz', 'timestamptz'];

function stateColumns(sessions: readonly ChargingSession[]): SqlValue[][] {
  return [
    sessions.map((s) => s.state),
    sessions.map((s) => s.endReason),
    sessions.map((s) => s.usedSeconds),
    sessions.map((s) => s.grantedSeconds),
    sessions.map((s) => s.postedAmount),
    sessions.map((s) => s.holdId),
    sessions.map((s) => s.holdAmount),
    sessions.map((s) => s.cost),
    sessions.map((s) => s.billedSeconds),
    sessions.map((s) => s.version),
    sessions.map((s) => s.updatedAt),
    sessions.map((s) => s.expiresAt),
    sessions.map((s) => s.endedAt),
  ];
}

/** Inserts new sessions in one statement. */
export async function insertSessions(db: Queryable, sessions: readonly ChargingSession[]): Promise<void> {
  if (sessions.length === 0) return;
  const column = <T>(pick: (session: ChargingSession) => T) => sessions.map(pick);
  await db.query(
    `INSERT INTO charging_sessions (id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id,
       rate_plan, interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS})
     SELECT id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id, rate_plan::jsonb,
       interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS}
     FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[],
       $11::int[], $12::timestamptz[], ${STATE_TYPES.map((type, i) => `$${13 + i}::${type}[]`).join(', ')})
       AS s (id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id, rate_plan,
         interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS})`,
    [
      column((s) => s.id),
      column((s) => s.organizationId),
      column((s) => s.callId),
      column((s) => s.service),
      column((s) => s.destination),
      column((s) => s.prefix),
      column((s) => s.destinationName),
      column((s) => s.rateDeckVersionId),
      column((s) => JSON.stringify(storePlan(s.plan))),
      column((s) => s.intervalSeconds),
      column((s) => s.ttlSeconds),
      column((s) => s.startedAt),
      ...stateColumns(sessions),
    ],
  );
}

/**
 * Writes sessions' new states, each only if nobody changed it since its `expectedVersion` was
 * read; answers how many were written (fewer means someone moved one on: the caller's
 * transaction must then roll back and retry).
 */
export async function saveSessions(db: Queryable, steps: readonly { session: ChargingSession; expectedVersion: number }[]): Promise<number> {
  if (steps.length === 0) return 0;
  const result = await db.query(
    `UPDATE charging_sessions AS s SET (${STATE_COLUMNS}) = (${STATE_NAMES.map((name) => `n.${name}`).join(', ')})
     FROM unnest($1::text[], $2::int[], ${STATE_TYPES.map((type, i) => `$${3 + i}::${type}[]`).join(', ')})
       AS n (id, expected_version, ${STATE_COLUMNS})
     WHERE s.id = n.id AND s.version = n.expected_version`,
    [steps.map((step) => step.session.id), steps.map((step) => step.expectedVersion), ...stateColumns(steps.map((step) => step.session))],
  );
  return result.affectedRows;
}

export async function findSession(db: Queryable, id: string): Promise<ChargingSession | undefined> {
  const result = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM charging_sessions WHERE id = $1`, [id]);
  return result.rows[0] && toSession(result.rows[0]);
}

export async function findSessionByCall(db: Queryable, organizationId: string, callId: string): Promise<ChargingSession | undefined> {
  const result = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM charging_sessions WHERE organization_id = $1 AND call_id = $2`, [organizationId, callId]);
  return result.rows[0] && toSession(result.rows[0]);
}

export async function findExpiredSessions(db: Queryable, now: Date, limit: number): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT id FROM charging_sessions WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`,
    [now, limit],
  );
  return result.rows.map((row) => row.id);
}

export async function nextSessionExpiry(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ at: Date | null }>(`SELECT min(expires_at) AS at FROM charging_sessions WHERE state = 'active'`);
  return result.rows[0]?.at ?? undefined;
}
