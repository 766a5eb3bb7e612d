import { isUsage, type ChargeKind } from '../billing/charge.ts';
import { availableBalance } from '../ledger/apply-command.ts';
import type { Account } from '../ledger/types.ts';
import { creditLimitOf, type CreditLimit } from './credit-limit.ts';
import type { InvoiceSetup, PaymentScheme } from './organization.ts';

/**
 * The customer's "Payment" view, in micro-units of the organization's currency. Sign as the
 * screens show it: negative = the customer owes (DR, red), positive = in credit (CR, green).
 */
export interface Credits {
  /** What the organization can still spend now. */
  readonly usableCredits: bigint;
  /** Charges not yet invoiced that count under the invoice setup (negative when owed). */
  readonly expectingInvoice: bigint;
  /** Invoiced minus payments applied (negative when owed). */
  readonly amountDue: bigint;
  /** expectingInvoice + amountDue. */
  readonly currentBalance: bigint;
  readonly creditLimit: CreditLimit;
  /** The sum of open holds (live calls, checkouts). */
  readonly reservedCredits: bigint;
  /** Prepaid only: the call credit balance. */
  readonly balance: bigint | null;
}

export interface CreditsInput {
  readonly paymentScheme: PaymentScheme;
  readonly invoiceSetup: InvoiceSetup;
  /** `credit` when prepaid, `unbilled` when postpaid. */
  readonly spending: Account;
  readonly receivable: Account;
  /** Uninvoiced charges by kind, positive amounts owed. */
  readonly uninvoicedCharges: ReadonlyMap<ChargeKind, bigint>;
  readonly now: Date;
}

/**
 * DESIGN §5, as pure arithmetic:
 * - prepaid usable = credit balance + credit limit in force - holds;
 *   postpaid usable = credit limit - unbilled - holds (both: the spending account's available);
 * - expecting invoice = uninvoiced usage only under "individual" (everything else is invoiced as
 *   it happens), every uninvoiced charge under "consolidated" and "none";
 * - amount due = invoiced - payments applied; current balance = expecting invoice + amount due.
 */
export function computeCredits(input: CreditsInput): Credits {
  let expected = 0n;
  for (const [kind, amount] of input.uninvoicedCharges) {
    if (input.invoiceSetup !== 'individual' || isUsage(kind)) expected += amount;
  }
  const expectingInvoice = -expected;
  const amountDue = input.receivable.creditsPosted - input.receivable.debitsPosted;
  return {
    usableCredits: availableBalance(input.spending, input.now),
    expectingInvoice,
    amountDue,
    currentBalance: expectingInvoice + amountDue,
    creditLimit: creditLimitOf(input.spending, input.now),
    reservedCredits: input.spending.debitsPending,
    balance: input.paymentScheme === 'prepaid' ? input.spending.creditsPosted - input.spending.debitsPosted : null,
  };
}
