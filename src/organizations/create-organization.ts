import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock/clock.ts';
import { failure, type Result } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { parseCurrency } from '../money/index.ts';
import type { Database } from '../store/database.ts';
import { ORGANIZATION_ACCOUNTS, type Organization, type OrganizationAccountCode } from './organization.ts';
import { insertOrganization } from './organization-store.ts';

export interface CreateOrganizationInput {
  name: string;
  currency: string;
}

// Spending accounts refuse debits beyond their credits (plus the credit limit, for `credit`).
const SPENDING: ReadonlySet<OrganizationAccountCode> = new Set(['credit', 'funds']);

/** Creates an organization with its ledger accounts, in one transaction. */
export async function createOrganization(
  deps: { db: Database; ledger: Ledger; clock: Clock },
  input: CreateOrganizationInput,
): Promise<Result<Organization, 'invalid_input'>> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) return failure('invalid_input', 'name must be 1 to 200 characters');
  const currency = parseCurrency(input.currency);
  if (!currency) return failure('invalid_input', `currency "${input.currency}" is not an ISO 4217 code`);
  const organization: Organization = { id: randomUUID(), name, currency, createdAt: deps.clock.now() };
  await deps.db.transaction(async (tx) => {
    await insertOrganization(tx, organization);
    for (const code of ORGANIZATION_ACCOUNTS) {
      const created = await deps.ledger.createAccount(
        { organizationId: organization.id, code, currency, debitsMustNotExceedCredits: SPENDING.has(code) },
        tx,
      );
      if (!created.ok) throw new Error(`new organization ${organization.id} already had a ${code} account`);
    }
  });
  return { ok: true, value: organization };
}
