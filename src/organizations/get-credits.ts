import { sumUninvoicedCharges } from '../billing/charge-store.ts';
import type { Clock } from '../clock/clock.ts';
import type { Queryable } from '../store/database.ts';
import { computeCredits, type Credits } from './credits.ts';
import { accountsOf } from './organization-accounts.ts';
import { spendingAccountCode, type Organization } from './organization.ts';

/** Gathers what the credits view needs and computes it. */
export async function getCredits(deps: { db: Queryable; clock: Clock }, organization: Organization): Promise<Credits> {
  const [accounts, uninvoicedCharges] = await Promise.all([accountsOf(deps.db, organization), sumUninvoicedCharges(deps.db, organization.id)]);
  return computeCredits({
    paymentScheme: organization.paymentScheme,
    invoiceSetup: organization.invoiceSetup,
    spending: accounts[spendingAccountCode(organization.paymentScheme)],
    receivable: accounts.receivable,
    uninvoicedCharges,
    now: deps.clock.now(),
  });
}
