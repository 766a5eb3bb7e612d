import type { Currency } from '../money/index.ts';
import { arrayColumns, queryWith, type Queryable, type SqlParam } from '../store/database.ts';
import type { Service } from '../rating/rate-plan.ts';
import type { UsageRecord } from './usage-record.ts';

const COLUMNS = `id, organization_id, service, destination, destination_name, prefix, rate_deck_version_id, started_at, quantity,
  billed_quantity, cost, currency, bill_period, source, external_id, charge_id, created_at`;

interface UsageRow {
  id: string;
  organization_id: string;
  service: Service;
  destination: string;
  destination_name: string;
  prefix: string;
  rate_deck_version_id: string;
  started_at: Date;
  quantity: number;
  billed_quantity: number;
  cost: bigint;
  currency: string;
  bill_period: string;
  source: UsageRecord['source'];
  external_id: string;
  charge_id: string | null;
  created_at: Date;
}

function toUsage(row: UsageRow): UsageRecord {
  return {
    id: row.id,
    organizationId: row.organization_id,
    service: row.service,
    destination: row.destination,
    destinationName: row.destination_name,
    prefix: row.prefix,
    rateDeckVersionId: row.rate_deck_version_id,
    startedAt: row.started_at,
    quantity: row.quantity,
    billedQuantity: row.billed_quantity,
    cost: row.cost,
    currency: row.currency as Currency,
    billPeriod: row.bill_period,
    source: row.source,
    externalId: row.external_id,
    chargeId: row.charge_id,
    createdAt: row.created_at,
  };
}

/**
 * Inserts usage records, skipping those whose (organization, source, external id) is already
 * stored; returns the external id of each one it inserted.
 */
export function insertUsageStatement(records: readonly UsageRecord[], param: SqlParam): string {
  const column = arrayColumns(records, param);
  return `INSERT INTO usage_records (${COLUMNS})
     SELECT * FROM unnest(${[
       column((r) => r.id, 'text'),
       column((r) => r.organizationId, 'uuid'),
       column((r) => r.service, 'text'),
       column((r) => r.destination, 'text'),
       column((r) => r.destinationName, 'text'),
       column((r) => r.prefix, 'text'),
       column((r) => r.rateDeckVersionId, 'text'),
       column((r) => r.startedAt, 'timestamptz'),
       column((r) => r.quantity, 'int'),
       column((r) => r.billedQuantity, 'int'),
       column((r) => r.cost, 'bigint'),
       column((r) => r.currency, 'text'),
       column((r) => r.billPeriod, 'text'),
       column((r) => r.source, 'text'),
       column((r) => r.externalId, 'text'),
       column((r) => r.chargeId, 'text'),
       column((r) => r.createdAt, 'timestamptz'),
     ].join(', ')})
     ON CONFLICT (organization_id, source, external_id) DO NOTHING
     RETURNING external_id`;
}

/** Inserts usage records (see insertUsageStatement); answers the external ids it inserted. */
export async function insertUsage(db: Queryable, records: readonly UsageRecord[]): Promise<Set<string>> {
  if (records.length === 0) return new Set();
  const result = await queryWith<{ external_id: string }>(db, (param) => insertUsageStatement(records, param));
  return new Set(result.rows.map((row) => row.external_id));
}

export async function findUsageByExternalId(db: Queryable, organizationId: string, source: UsageRecord['source'], externalId: string): Promise<UsageRecord | undefined> {
  const result = await db.query<UsageRow>(`SELECT ${COLUMNS} FROM usage_records WHERE organization_id = $1 AND source = $2 AND external_id = $3`, [
    organizationId,
    source,
    externalId,
  ]);
  return result.rows[0] && toUsage(result.rows[0]);
}

/** The key of a usage record's (organization, external id), unique per source. */
export function usageKey(organizationId: string, externalId: string): string {
  return `${organizationId}\u0000${externalId}`;
}

/** Of these (organization, external id) pairs, the ones already stored for the source, by `usageKey`. */
export async function existingUsageKeys(db: Queryable, source: UsageRecord['source'], pairs: readonly { organizationId: string; externalId: string }[]): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const result = await db.query<{ organization_id: string; external_id: string }>(
    `SELECT u.organization_id, u.external_id FROM usage_records u
     JOIN unnest($2::uuid[], $3::text[]) AS k(organization_id, external_id) ON u.organization_id = k.organization_id AND u.external_id = k.external_id
     WHERE u.source = $1`,
    [source, pairs.map((pair) => pair.organizationId), pairs.map((pair) => pair.externalId)],
  );
  return new Set(result.rows.map((row) => usageKey(row.organization_id, row.external_id)));
}

export interface UsageFilter {
  organizationId: string;
  service?: Service;
  from?: Date;
  to?: Date;
  billPeriod?: string;
  source?: UsageRecord['source'];
}

function where(filter: UsageFilter): { sql: string; params: (string | Date)[] } {
  const conditions = ['organization_id = $1'];
  const params: (string | Date)[] = [filter.organizationId];
  const add = (sql: string, value: string | Date) => conditions.push(sql.replace('?', `$${params.push(value)}`));
  if (filter.service) add('service = ?', filter.service);
  if (filter.from) add('started_at >= ?', filter.from);
  if (filter.to) add('started_at < ?', filter.to);
  if (filter.billPeriod) add('bill_period = ?', filter.billPeriod);
  if (filter.source) add('source = ?', filter.source);
  return { sql: conditions.join(' AND '), params };
}

/** A page of usage, newest first (by start, then id). */
export async function listUsage(db: Queryable, filter: UsageFilter, page: { before?: { startedAt: Date; id: string }; limit: number }): Promise<UsageRecord[]> {
  const { sql, params } = where(filter);
  let condition = sql;
  if (page.before) {
    condition += ` AND (started_at, id) < ($${params.push(page.before.startedAt)}, $${params.push(page.before.id)})`;
  }
  const result = await db.query<UsageRow>(`SELECT ${COLUMNS} FROM usage_records WHERE ${condition} ORDER BY started_at DESC, id DESC LIMIT ${page.limit}`, params);
  return result.rows.map(toUsage);
}

export interface UsageTotal {
  service: Service;
  records: number;
  quantity: number;
  billedQuantity: number;
  cost: bigint;
}

export async function totalUsage(db: Queryable, filter: UsageFilter): Promise<UsageTotal[]> {
  const { sql, params } = where(filter);
  const result = await db.query<{ service: Service; records: string; quantity: string; billed: string; cost: bigint }>(
    `SELECT service, count(*)::text AS records, coalesce(sum(quantity), 0)::text AS quantity, coalesce(sum(billed_quantity), 0)::text AS billed,
            coalesce(sum(cost), 0)::bigint AS cost
     FROM usage_records WHERE ${sql} GROUP BY service ORDER BY service`,
    params,
  );
  return result.rows.map((row) => ({ service: row.service, records: Number(row.records), quantity: Number(row.quantity), billedQuantity: Number(row.billed), cost: row.cost }));
}
