import { arrayColumns, queryWith, type Queryable, type SqlParam } from '../store/database.ts';
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

/** The STATE_COLUMNS of many sessions as typed array parameters, in order, for a multi-row write to unnest. */
function stateArrays(sessions: readonly ChargingSession[], param: SqlParam): string[] {
  const column = arrayColumns(sessions, param);
  return [
    column((s) => s.state, 'text'),
    column((s) => s.endReason, 'text'),
    column((s) => s.usedSeconds, 'int'),
    column((s) => s.grantedSeconds, 'int'),
    column((s) => s.postedAmount, 'bigint'),
    column((s) => s.holdId, 'text'),
    column((s) => s.holdAmount, 'bigint'),
    column((s) => s.cost, 'bigint'),
    column((s) => s.billedSeconds, 'int'),
    column((s) => s.version, 'int'),
    column((s) => s.updatedAt, 'timestamptz'),
    column((s) => s.expiresAt, 'timestamptz'),
    column((s) => s.endedAt, 'timestamptz'),
  ];
}

/** Inserts new sessions in one statement. */
export function insertSessionsStatement(sessions: readonly ChargingSession[], param: SqlParam): string {
  const column = arrayColumns(sessions, param);
  return `INSERT INTO charging_sessions (id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id,
       rate_plan, interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS})
     SELECT id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id, rate_plan::jsonb,
       interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS}
     FROM unnest(${[
       column((s) => s.id, 'text'),
       column((s) => s.organizationId, 'uuid'),
       column((s) => s.callId, 'text'),
       column((s) => s.service, 'text'),
       column((s) => s.destination, 'text'),
       column((s) => s.prefix, 'text'),
       column((s) => s.destinationName, 'text'),
       column((s) => s.rateDeckVersionId, 'text'),
       column((s) => JSON.stringify(storePlan(s.plan)), 'text'),
       column((s) => s.intervalSeconds, 'int'),
       column((s) => s.ttlSeconds, 'int'),
       column((s) => s.startedAt, 'timestamptz'),
       ...stateArrays(sessions, param),
     ].join(', ')})
       AS s (id, organization_id, call_id, service, destination, prefix, destination_name, rate_deck_version_id, rate_plan,
         interval_seconds, ttl_seconds, started_at, ${STATE_COLUMNS})`;
}

export async function insertSessions(db: Queryable, sessions: readonly ChargingSession[]): Promise<void> {
  if (sessions.length > 0) await queryWith(db, (param) => insertSessionsStatement(sessions, param));
}

/**
 * Writes sessions' new states, each only if nobody changed it since its `expectedVersion` was
 * read; returns a row for each one written (fewer than asked means someone moved one on: the
 * caller's transaction must then roll back and retry).
 */
export function saveSessionsStatement(steps: readonly { session: ChargingSession; expectedVersion: number }[], param: SqlParam): string {
  const ids = param(steps.map((step) => step.session.id));
  // The ANY finds the sessions by key: joined to the unnest alone, the planner scans the whole
  // table while it is small enough to look cheap (the ledger store's accounts, likewise).
  return `UPDATE charging_sessions AS s SET (${STATE_COLUMNS}) = (${STATE_NAMES.map((name) => `n.${name}`).join(', ')})
     FROM unnest(${ids}::text[], ${param(steps.map((step) => step.expectedVersion))}::int[],
       ${stateArrays(
         steps.map((step) => step.session),
         param,
       ).join(', ')})
       AS n (id, expected_version, ${STATE_COLUMNS})
     WHERE s.id = n.id AND s.id = ANY(${ids}::text[]) AND s.version = n.expected_version
     RETURNING s.id`;
}

/** Answers how many of the steps were written (see saveSessionsStatement). */
export async function saveSessions(db: Queryable, steps: readonly { session: ChargingSession; expectedVersion: number }[]): Promise<number> {
  if (steps.length === 0) return 0;
  return (await queryWith(db, (param) => saveSessionsStatement(steps, param))).rows.length;
}

export async function findSession(db: Queryable, id: string): Promise<ChargingSession | undefined> {
  const result = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM charging_sessions WHERE id = $1`, [id]);
  return result.rows[0] && toSession(result.rows[0]);
}

export async function findSessionByCall(db: Queryable, organizationId: string, callId: string): Promise<ChargingSession | undefined> {
  const result = await db.query<SessionRow>(`SELECT ${COLUMNS} FROM charging_sessions WHERE organization_id = $1 AND call_id = $2`, [organizationId, callId]);
  return result.rows[0] && toSession(result.rows[0]);
}

/**
 * Live calls, oldest first: sessions still active (one past its TTL shows until the expiry job
 * ends it). Ended calls are usage records. The active sessions are few (the calls going on), so
 * the partial index of active sessions finds them whatever the organization.
 */
export async function listActiveSessions(
  db: Queryable,
  filter: { organizationId?: string; after?: { startedAt: Date; id: string }; limit: number },
): Promise<ChargingSession[]> {
  const result = await queryWith<SessionRow>(db, (param) => {
    const conditions = ["state = 'active'"];
    if (filter.organizationId !== undefined) conditions.push(`organization_id = ${param(filter.organizationId)}::uuid`);
    if (filter.after) conditions.push(`(started_at, id) > (${param(filter.after.startedAt)}, ${param(filter.after.id)})`);
    return `SELECT ${COLUMNS} FROM charging_sessions WHERE ${conditions.join(' AND ')} ORDER BY started_at, id LIMIT ${param(filter.limit)}`;
  });
  return result.rows.map(toSession);
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
