import type { Queryable } from '../store/database.ts';
import type { Currency } from '../money/index.ts';
import type { BillingProfile, InvoiceSetup, Organization, OrganizationStatus, PaymentScheme } from './organization.ts';

const ORGANIZATION_COLUMNS =
  'id, wallet_id, name, currency, payment_scheme, invoice_setup, status, account_code, rate_deck_id, charging_interval_seconds, low_credit_threshold, created_at, updated_at';

interface OrganizationRow {
  id: string;
  wallet_id: string;
  name: string;
  currency: string;
  payment_scheme: PaymentScheme;
  invoice_setup: InvoiceSetup;
  status: OrganizationStatus;
  account_code: string | null;
  rate_deck_id: string | null;
  charging_interval_seconds: number | null;
  low_credit_threshold: bigint | null;
  created_at: Date;
  updated_at: Date | null;
}

function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    walletId: row.wallet_id,
    name: row.name,
    currency: row.currency as Currency,
    paymentScheme: row.payment_scheme,
    invoiceSetup: row.invoice_setup,
    status: row.status,
    accountCode: row.account_code,
    rateDeckId: row.rate_deck_id,
    chargingIntervalSeconds: row.charging_interval_seconds,
    lowCreditThreshold: row.low_credit_threshold,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function insertOrganization(db: Queryable, organization: Organization): Promise<void> {
  await db.query(
    `INSERT INTO organizations (${ORGANIZATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      organization.id,
      organization.walletId,
      organization.name,
      organization.currency,
      organization.paymentScheme,
      organization.invoiceSetup,
      organization.status,
      organization.accountCode,
      organization.rateDeckId,
      organization.chargingIntervalSeconds,
      organization.lowCreditThreshold,
      organization.createdAt,
      organization.updatedAt,
    ],
  );
}

export async function findOrganization(db: Queryable, id: string, options: { lock?: boolean } = {}): Promise<Organization | undefined> {
  const result = await db.query<OrganizationRow>(
    // NO KEY UPDATE: the foreign keys of rows written for the organization (audit, charges, usage)
    // take KEY SHARE on it, which FOR UPDATE would make wait, and deadlock with a ledger batch
    // that holds the organization's accounts.
    `SELECT ${ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1${options.lock ? ' FOR NO KEY UPDATE' : ''}`,
    [id],
  );
  return result.rows[0] && toOrganization(result.rows[0]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface OrganizationForCharging {
  organization: Organization;
  timeZone: string;
  accountIds: Record<string, string>;
}

/**
 * Organizations with what the charging path needs beside each, in one read: the time zone and
 * the ids of the ledger accounts in the organization's currency, by code. Answers one entry per
 * id asked for, in the same order: undefined where none was found, and for a string that is no
 * UUID (it would fail the whole statement). A UUID matches in either case, as PostgreSQL's do.
 */
export async function findOrganizationsForCharging(db: Queryable, ids: readonly string[]): Promise<(OrganizationForCharging | undefined)[]> {
  const uuids = ids.filter((id) => UUID.test(id));
  if (uuids.length === 0) return ids.map(() => undefined);
  const result = await db.query<OrganizationRow & { time_zone: string | null; account_ids: Record<string, string> | null }>(
    `SELECT ${ORGANIZATION_COLUMNS.split(', ').map((column) => `o.${column}`).join(', ')}, b.time_zone,
       (SELECT jsonb_object_agg(a.code, a.id) FROM ledger_accounts a WHERE a.organization_id = o.id AND a.currency = o.currency) AS account_ids
     FROM organizations o LEFT JOIN billing_profiles b ON b.organization_id = o.id
     WHERE o.id = ANY($1::uuid[])`,
    [uuids],
  );
  // PostgreSQL answers a UUID in lower case, whatever case it was asked in.
  const found = new Map(result.rows.map((row) => [row.id, { organization: toOrganization(row), timeZone: row.time_zone ?? 'UTC', accountIds: row.account_ids ?? {} }]));
  return ids.map((id) => found.get(id.toLowerCase()));
}

export async function findOrganizationByAccountCode(db: Queryable, code: string): Promise<Organization | undefined> {
  const result = await db.query<OrganizationRow>(`SELECT ${ORGANIZATION_COLUMNS} FROM organizations WHERE account_code = $1`, [code]);
  return result.rows[0] && toOrganization(result.rows[0]);
}

/** The organizations a CDR can name: by account code, or by wallet ID. */
export async function findOrganizationsByCodes(db: Queryable, codes: readonly string[]): Promise<Organization[]> {
  if (codes.length === 0) return [];
  const result = await db.query<OrganizationRow>(
    `SELECT ${ORGANIZATION_COLUMNS} FROM organizations WHERE account_code = ANY($1::text[]) OR wallet_id = ANY($1::text[])`,
    [codes],
  );
  return result.rows.map(toOrganization);
}

export async function updateOrganization(db: Queryable, organization: Organization): Promise<void> {
  await db.query(
    `UPDATE organizations SET name = $2, currency = $3, payment_scheme = $4, invoice_setup = $5, status = $6,
       account_code = $7, rate_deck_id = $8, charging_interval_seconds = $9, low_credit_threshold = $10, updated_at = $11 WHERE id = $1`,
    [
      organization.id,
      organization.name,
      organization.currency,
      organization.paymentScheme,
      organization.invoiceSetup,
      organization.status,
      organization.accountCode,
      organization.rateDeckId,
      organization.chargingIntervalSeconds,
      organization.lowCreditThreshold,
      organization.updatedAt,
    ],
  );
}

/** Whether a wallet ID is taken: as a wallet ID, or as an account code written like it (a CDR would name both alike). */
export async function walletIdTaken(db: Queryable, walletId: string): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM organizations WHERE wallet_id = $1 OR account_code IN ($1, $2)', [walletId, walletId.replaceAll('-', '')]);
  return result.rows.length > 0;
}

/**
 * Whether another organization answers to this account code in a CDR: as its account code, or
 * as its wallet ID (`walletId` is the code read as one, when it can be).
 */
export async function accountCodeTaken(db: Queryable, accountCode: string, walletId: string | undefined, exceptId: string | null): Promise<'account_code' | 'wallet_id' | undefined> {
  const result = await db.query<{ account_code: string | null }>(
    'SELECT account_code FROM organizations WHERE (account_code = $1 OR wallet_id = $2) AND id IS DISTINCT FROM $3 LIMIT 1',
    [accountCode, walletId ?? null, exceptId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return row.account_code === accountCode ? 'account_code' : 'wallet_id';
}

/** How a search finds organizations: one exact key, or a part of the name. */
export type OrganizationQuery = { by: 'id'; id: string } | { by: 'wallet_id'; walletId: string } | { by: 'name'; fragment: string } | { by: 'all' };

/** Where the previous page ended, in the order (lower(name), id). */
export interface SearchCursor {
  name: string;
  id: string;
}

/** Name matches gathered through the trigram index before falling back to the ordered scan. */
const NAME_MATCH_CAP = 300;

/**
 * A page of organizations in (lower(name), id) order, each with the key the next page starts
 * after. A name fragment is searched in two steps, because the planner cannot tell a rare
 * fragment from a common one: first up to 300 matches through the trigram index, sorted here
 * (fast when matches are few); only if there are more, the ordered scan with a filter, which is
 * fast exactly then, since matches are dense and the first page is found early.
 */
export async function searchOrganizations(
  db: Queryable,
  query: OrganizationQuery,
  page: { after?: SearchCursor; limit: number; onlyId?: string },
): Promise<{ organization: Organization; sortName: string }[]> {
  const conditions: string[] = [];
  const params: (string | number | null)[] = [];
  const param = (value: string | number | null) => `$${params.push(value)}`;
  // In the statement, not after it: rows and cursors of other organizations never leave it.
  if (page.onlyId) conditions.push(`id = ${param(page.onlyId)}::uuid`);
  if (query.by === 'id') conditions.push(`id = ${param(query.id)}::uuid`);
  if (query.by === 'wallet_id') conditions.push(`wallet_id = ${param(query.walletId)}`);
  if (query.by === 'name') conditions.push(`name ILIKE ${param(`%${escapeLike(query.fragment)}%`)}`);
  if (page.after) conditions.push(`(lower(name), id) > (${param(page.after.name)}, ${param(page.after.id)}::uuid)`);
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  const toRows = (rows: (OrganizationRow & { sort_name: string })[]) => rows.map((row) => ({ organization: toOrganization(row), sortName: row.sort_name }));

  if (query.by === 'name') {
    const gathered = await db.query<OrganizationRow & { sort_name: string; matched: string }>(
      `WITH matches AS MATERIALIZED (
         SELECT ${ORGANIZATION_COLUMNS}, lower(name) AS sort_name FROM organizations ${where} LIMIT ${NAME_MATCH_CAP}
       )
       SELECT *, (count(*) OVER ())::text AS matched FROM matches ORDER BY sort_name, id LIMIT ${param(page.limit)}`,
      params,
    );
    if (gathered.rows.length === 0 || Number(gathered.rows[0]!.matched) < NAME_MATCH_CAP) return toRows(gathered.rows);
    params.pop();
  }
  const result = await db.query<OrganizationRow & { sort_name: string }>(
    `SELECT ${ORGANIZATION_COLUMNS}, lower(name) AS sort_name FROM organizations ${where} ORDER BY lower(name), id LIMIT ${param(page.limit)}`,
    params,
  );
  return toRows(result.rows);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

interface BillingProfileRow {
  company_name: string | null;
  address_lines: string[];
  city: string | null;
  postal_code: string | null;
  region: string | null;
  country: string | null;
  time_zone: string;
  billing_email: string | null;
  tax_id: string | null;
  tax_rate: bigint;
  updated_at: Date;
  currency: string;
}

export async function findBillingProfile(db: Queryable, organizationId: string): Promise<BillingProfile | undefined> {
  const result = await db.query<BillingProfileRow>(
    `SELECT b.company_name, b.address_lines, b.city, b.postal_code, b.region, b.country, b.time_zone, b.billing_email,
            b.tax_id, b.tax_rate, b.updated_at, o.currency
     FROM billing_profiles b JOIN organizations o ON o.id = b.organization_id WHERE b.organization_id = $1`,
    [organizationId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    companyName: row.company_name,
    address: { lines: row.address_lines, city: row.city, postalCode: row.postal_code, region: row.region, country: row.country?.trim() ?? null },
    currency: row.currency as Currency,
    timeZone: row.time_zone,
    billingEmail: row.billing_email,
    taxId: row.tax_id,
    taxRate: row.tax_rate,
    updatedAt: row.updated_at,
  };
}

/** Writes the profile (the currency is the organization's, written with it). */
export async function saveBillingProfile(db: Queryable, organizationId: string, profile: BillingProfile): Promise<void> {
  await db.query(
    `INSERT INTO billing_profiles (organization_id, company_name, address_lines, city, postal_code, region, country, time_zone,
       billing_email, tax_id, tax_rate, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (organization_id) DO UPDATE SET company_name = EXCLUDED.company_name, address_lines = EXCLUDED.address_lines,
       city = EXCLUDED.city, postal_code = EXCLUDED.postal_code, region = EXCLUDED.region, country = EXCLUDED.country,
       time_zone = EXCLUDED.time_zone, billing_email = EXCLUDED.billing_email, tax_id = EXCLUDED.tax_id,
       tax_rate = EXCLUDED.tax_rate, updated_at = EXCLUDED.updated_at`,
    [
      organizationId,
      profile.companyName,
      [...profile.address.lines],
      profile.address.city,
      profile.address.postalCode,
      profile.address.region,
      profile.address.country,
      profile.timeZone,
      profile.billingEmail,
      profile.taxId,
      profile.taxRate,
      profile.updatedAt,
    ],
  );
}

/** Time zones of many organizations at once, for bulk rating. */
export async function findTimeZones(db: Queryable, organizationIds: readonly string[]): Promise<Map<string, string>> {
  if (organizationIds.length === 0) return new Map();
  const result = await db.query<{ organization_id: string; time_zone: string }>(
    'SELECT organization_id, time_zone FROM billing_profiles WHERE organization_id = ANY($1::uuid[])',
    [organizationIds],
  );
  return new Map(result.rows.map((row) => [row.organization_id, row.time_zone]));
}

export async function countOrganizations(db: Queryable): Promise<number> {
  const result = await db.query<{ count: string }>('SELECT count(*)::text AS count FROM organizations');
  return Number(result.rows[0]!.count);
}
