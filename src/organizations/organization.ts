import type { Currency } from '../money/index.ts';

/** A billed customer of the provider. The next issue adds its billing profile, scheme and limits. */
export interface Organization {
  /** A UUID, as the Finance app shows it. */
  readonly id: string;
  readonly name: string;
  readonly currency: Currency;
  readonly createdAt: Date;
}

/**
 * The ledger accounts every organization has, by code.
 * - `credit`: call credit, the prepaid spending balance; may not go below minus the credit limit.
 * - `funds`: business account funds added by bank transfer or card, spent on purchases.
 * - `receivable`: what invoices ask the organization to pay (amount due).
 * - `unbilled`: charges of the open bill period not yet invoiced (expecting invoice).
 */
export const ORGANIZATION_ACCOUNTS = ['credit', 'funds', 'receivable', 'unbilled'] as const;
export type OrganizationAccountCode = (typeof ORGANIZATION_ACCOUNTS)[number];
