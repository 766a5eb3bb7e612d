import type { Currency } from '../money/index.ts';

export type PaymentScheme = 'prepaid' | 'postpaid';
/** individual: an invoice per subscription / add-on / service / hardware charge, plus a monthly tax invoice for usage. */
export type InvoiceSetup = 'individual' | 'consolidated' | 'none';
export type OrganizationStatus = 'active' | 'suspended' | 'closed';

export const PAYMENT_SCHEMES: readonly PaymentScheme[] = ['prepaid', 'postpaid'];
export const INVOICE_SETUPS: readonly InvoiceSetup[] = ['individual', 'consolidated', 'none'];
export const ORGANIZATION_STATUSES: readonly OrganizationStatus[] = ['active', 'suspended', 'closed'];

/** A billed customer of the provider. */
export interface Organization {
  /** A UUID, as the Finance app shows it. */
  readonly id: string;
  /** Short and readable over the phone: `512-884-037`. */
  readonly walletId: string;
  readonly name: string;
  /** The preferred currency of its billing profile: everything it is billed is in it. */
  readonly currency: Currency;
  readonly paymentScheme: PaymentScheme;
  readonly invoiceSetup: InvoiceSetup;
  readonly status: OrganizationStatus;
  /** Maps CDRs to the organization (the switch's account code). */
  readonly accountCode: string | null;
  /** The rate deck that prices its usage; null: the provider's default deck. */
  readonly rateDeckId: string | null;
  /** How much call time a live session holds at a time; null: 60 s. */
  readonly chargingIntervalSeconds: number | null;
  /** balance.low is raised once each time usable credit falls to or below it; null: never. */
  readonly lowCreditThreshold: bigint | null;
  readonly createdAt: Date;
  readonly updatedAt: Date | null;
}

export interface BillingAddress {
  readonly lines: readonly string[];
  readonly city: string | null;
  readonly postalCode: string | null;
  readonly region: string | null;
  /** ISO 3166-1 alpha-2. */
  readonly country: string | null;
}

export interface BillingProfile {
  readonly companyName: string | null;
  readonly address: BillingAddress;
  /** The preferred currency; the same as the organization's. */
  readonly currency: Currency;
  /** IANA, e.g. `Asia/Singapore`: bill periods are calendar months in it. */
  readonly timeZone: string;
  readonly billingEmail: string | null;
  readonly taxId: string | null;
  /** Percent in micro-units: 9% is 9_000_000n. */
  readonly taxRate: bigint;
  readonly updatedAt: Date;
}

/**
 * The ledger accounts every organization has, by code.
 * - `credit`: call credit, the prepaid spending balance; may not go below minus the credit limit.
 * - `funds`: business account funds added by bank transfer or card, spent on purchases.
 * - `receivable`: what invoices ask the organization to pay; its balance is the amount due.
 * - `unbilled`: postpaid charges not yet invoiced; capped by the postpaid credit limit.
 */
export const ORGANIZATION_ACCOUNTS = ['credit', 'funds', 'receivable', 'unbilled'] as const;
export type OrganizationAccountCode = (typeof ORGANIZATION_ACCOUNTS)[number];

/** One of the accounts an organization is made with (not one the operator opened for it). */
export function isOrganizationAccount(code: string): code is OrganizationAccountCode {
  return (ORGANIZATION_ACCOUNTS as readonly string[]).includes(code);
}

/** The account charges debit and the credit limit caps: `credit` when prepaid, `unbilled` when postpaid. */
export function spendingAccountCode(scheme: PaymentScheme): OrganizationAccountCode {
  return scheme === 'prepaid' ? 'credit' : 'unbilled';
}
