import type { Account } from '../ledger/types.ts';
import type { Queryable } from '../store/database.ts';
import { listAccounts } from '../ledger/ledger-store.ts';
import { ORGANIZATION_ACCOUNTS, spendingAccountCode, type Organization, type OrganizationAccountCode } from './organization.ts';

export type OrganizationAccounts = Record<OrganizationAccountCode, Account>;

/** The organization's own ledger accounts, by code, in its currency. */
export async function accountsOf(db: Queryable, organization: Organization): Promise<OrganizationAccounts> {
  const accounts = await listAccounts(db, { organizationId: organization.id, currency: organization.currency, limit: 200 });
  const byCode = new Map(accounts.map((account) => [account.code, account]));
  const found = {} as OrganizationAccounts;
  for (const code of ORGANIZATION_ACCOUNTS) {
    const account = byCode.get(code);
    if (!account) throw new Error(`organization ${organization.id} has no ${code} account in ${organization.currency}`);
    found[code] = account;
  }
  return found;
}

/** The account charges debit and the credit limit caps. */
export async function spendingAccountOf(db: Queryable, organization: Organization): Promise<Account> {
  return (await accountsOf(db, organization))[spendingAccountCode(organization.paymentScheme)];
}

