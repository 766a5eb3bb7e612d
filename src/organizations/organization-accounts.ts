import { RingbillError } from '../errors.ts';
import type { Account } from '../ledger/types.ts';
import type { Queryable } from '../store/database.ts';
import { hasTransfers, listAccounts, lockAccount, lockAccountsOfOrganization, setLowBalanceThreshold } from '../ledger/ledger-store.ts';
import { raiseLowBalance } from '../ledger/low-balance.ts';
import { ORGANIZATION_ACCOUNTS, spendingAccountCode, type Organization, type OrganizationAccountCode } from './organization.ts';

export type OrganizationAccounts = Record<OrganizationAccountCode, Account>;

/** The organization's own ledger accounts, by code, in its currency. */
export async function accountsOf(db: Queryable, organization: Organization): Promise<OrganizationAccounts> {
  // By code: the operator may have opened many more accounts for the organization.
  const accounts = await listAccounts(db, { organizationId: organization.id, currency: organization.currency, codes: ORGANIZATION_ACCOUNTS, limit: ORGANIZATION_ACCOUNTS.length });
  const byCode = new Map(accounts.map((account) => [account.code, account]));
  const found = {} as OrganizationAccounts;
  for (const code of ORGANIZATION_ACCOUNTS) {
    const account = byCode.get(code);
    if (!account) {
      // Read before a currency change committed, the organization names the old currency: the
      // caller's to send again, not a fault of ours.
      const [other] = await listAccounts(db, { organizationId: organization.id, limit: 1 });
      if (other && other.currency !== organization.currency) {
        throw new RingbillError('currency_mismatch', `the organization's currency changed to ${other.currency} while this request ran; send it again`);
      }
      throw new Error(`organization ${organization.id} has no ${code} account in ${organization.currency}`);
    }
    found[code] = account;
  }
  return found;
}

/** The account charges debit and the credit limit caps. */
export async function spendingAccountOf(db: Queryable, organization: Organization): Promise<Account> {
  return (await accountsOf(db, organization))[spendingAccountCode(organization.paymentScheme)];
}

/**
 * Puts the organization's low-credit threshold on its spending accounts (both, so that a change
 * of payment scheme keeps it), where the ledger compares it with every change of their balance.
 * Changing it is a change too: a threshold set at or above the usable credit left, which the old
 * one was below, raises `balance.low` now. A new organization's first threshold raises nothing
 * (`raise: false`): it has not fallen anywhere yet.
 */
export async function setLowCreditThreshold(tx: Queryable, organization: Organization, threshold: bigint | null, at: Date, options: { raise: boolean }): Promise<void> {
  const accounts = await accountsOf(tx, organization);
  // Under the lock the ledger takes, so that no posting judges the old threshold meanwhile.
  const spending = (await lockAccount(tx, accounts[spendingAccountCode(organization.paymentScheme)].id))!;
  await setLowBalanceThreshold(tx, [accounts.credit.id, accounts.unbilled.id], threshold);
  if (options.raise) await raiseLowBalance(tx, spending, { ...spending, lowBalanceThreshold: threshold }, at);
}

/**
 * Locks the organization's accounts and answers whether none has a transfer yet: the condition
 * for changing what its accounts are (their currency, which one charges debit). Locked before
 * the check, since a ledger batch holding them may be about to commit the first transfer, which
 * the check would not see yet; the change would then be made under its money.
 */
export async function lockAccountsWithoutActivity(tx: Queryable, organizationId: string): Promise<boolean> {
  const accounts = await lockAccountsOfOrganization(tx, organizationId);
  return !(await hasTransfers(tx, accounts));
}
