import type { Queryable } from '../store/database.ts';
import type { Currency } from '../money/index.ts';
import type { Organization } from './organization.ts';

interface OrganizationRow {
  id: string;
  name: string;
  currency: string;
  created_at: Date;
}

function toOrganization(row: OrganizationRow): Organization {
  return { id: row.id, name: row.name, currency: row.currency as Currency, createdAt: row.created_at };
}

export async function insertOrganization(db: Queryable, organization: Organization): Promise<void> {
  await db.query('INSERT INTO organizations (id, name, currency, created_at) VALUES ($1, $2, $3, $4)', [
    organization.id,
    organization.name,
    organization.currency,
    organization.createdAt,
  ]);
}

export async function findOrganization(db: Queryable, id: string): Promise<Organization | undefined> {
  const result = await db.query<OrganizationRow>('SELECT id, name, currency, created_at FROM organizations WHERE id = $1', [id]);
  return result.rows[0] && toOrganization(result.rows[0]);
}
