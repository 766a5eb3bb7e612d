import { sumUninvoicedCharges } from '../billing/charge-store.ts';
import type { Clock } from '../clock/clock.ts';
import type { Database } from '../store/database.ts';
import { computeCredits, type Credits } from './credits.ts';
import { accountsOf } from './organization-accounts.ts';
import { spendingAccountCode, type Organization } from './organization.ts';

/**
 * Gathers what the credits view needs and computes it. The balances and the charges are read in
 * one snapshot: read apart, on a server, a call ending between the two reads showed its cost in
 * the balance and not yet in expecting invoice (or the other way round), and the figures did not
 * add up.
 */
export async function getCredits(deps: { db: Database; clock: Clock }, organization: Organization): Promise<Credits> {
  const [accounts, uninvoicedCharges] = await deps.db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return [await accountsOf(tx, organization), await sumUninvoicedCharges(tx, organization.id)] as const;
  });
  return computeCredits({
    paymentScheme: organization.paymentScheme,
    invoiceSetup: organization.invoiceSetup,
    spending: accounts[spendingAccountCode(organization.paymentScheme)],
    receivable: accounts.receivable,
    uninvoicedCharges,
    now: deps.clock.now(),
  });
}
