import { randomUUID } from 'node:crypto';
import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { setOverdraft } from '../ledger/ledger-store.ts';
import { parseCurrency } from '../money/index.ts';
import { isForeignKeyViolation, isUniqueViolation, type Database } from '../store/database.ts';
import { buildBillingProfile, defaultBillingProfile, type BillingProfileInput } from './billing-profile.ts';
import { creditLimitOf, planCreditLimit, type CreditLimitRequest } from './credit-limit.ts';
import {
  ORGANIZATION_ACCOUNTS,
  spendingAccountCode,
  type InvoiceSetup,
  type Organization,
  type OrganizationAccountCode,
  type PaymentScheme,
} from './organization.ts';
import { refuseTakenAccountCode } from './account-code.ts';
import { setLowCreditThreshold } from './organization-accounts.ts';
import { insertOrganization, saveBillingProfile, walletIdTaken } from './organization-store.ts';
import { describeCreditLimit } from './set-credit-limit.ts';
import { newWalletId } from './wallet-id.ts';

export interface CreateOrganizationInput {
  name: string;
  /** The preferred currency; may come in the billing profile instead. */
  currency?: string;
  paymentScheme?: PaymentScheme;
  invoiceSetup?: InvoiceSetup;
  accountCode?: string | null;
  billingProfile?: BillingProfileInput;
  /** Required for postpaid. */
  creditLimit?: CreditLimitRequest;
  rateDeckId?: string | null;
  chargingIntervalSeconds?: number | null;
  lowCreditThreshold?: bigint | null;
  actor: string;
}

// Spending accounts refuse debits beyond their credits plus the credit limit where it applies.
const SPENDING: ReadonlySet<OrganizationAccountCode> = new Set(['credit', 'funds', 'unbilled']);

/**
 * Creates an organization with its billing profile, ledger accounts and credit limit, in one
 * transaction, and writes it to the audit log. A bare `{name, currency}` makes a prepaid
 * organization with a consolidated monthly invoice.
 */
export async function createOrganization(
  deps: { db: Database; ledger: Ledger; clock: Clock },
  input: CreateOrganizationInput,
): Promise<Result<Organization, ErrorCode>> {
  const name = input.name.trim();
  // Characters as people count them (code points), as the schema does; not UTF-16 units.
  if (name.length === 0 || [...name].length > 200) return failure('invalid_input', 'name must be 1 to 200 characters');
  const currencyCode = input.currency ?? input.billingProfile?.currency;
  if (currencyCode === undefined) return failure('invalid_input', 'currency is required (or billingProfile.currency)');
  if (input.currency !== undefined && input.billingProfile?.currency !== undefined && input.currency !== input.billingProfile.currency) {
    return failure('invalid_input', 'currency and billingProfile.currency differ');
  }
  const currency = parseCurrency(currencyCode);
  if (!currency) return failure('invalid_input', `currency "${currencyCode}" is not an ISO 4217 code`);
  const paymentScheme = input.paymentScheme ?? 'prepaid';
  if (paymentScheme === 'postpaid' && !input.creditLimit) return failure('credit_limit_required');
  const now = deps.clock.now();
  const profile = buildBillingProfile({ ...input.billingProfile, currency }, defaultBillingProfile(name, currency, now), now);
  if (!profile.ok) return profile;
  const accountCode = input.accountCode?.trim() || null;

  // A new wallet ID can collide with one taken a moment ago; the unique index catches it.
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.db.transaction(async (tx) => {
        const taken = accountCode ? await refuseTakenAccountCode(tx, accountCode, null) : undefined;
        if (taken) return taken;
        let walletId = newWalletId();
        while (await walletIdTaken(tx, walletId)) walletId = newWalletId();
        const organization: Organization = {
          id: randomUUID(),
          walletId,
          name,
          currency,
          paymentScheme,
          invoiceSetup: input.invoiceSetup ?? 'consolidated',
          status: 'active',
          accountCode,
          rateDeckId: input.rateDeckId ?? null,
          chargingIntervalSeconds: input.chargingIntervalSeconds ?? null,
          lowCreditThreshold: input.lowCreditThreshold ?? null,
          createdAt: now,
          updatedAt: null,
        };
        await insertOrganization(tx, organization);
        await saveBillingProfile(tx, organization.id, profile.value);
        for (const code of ORGANIZATION_ACCOUNTS) {
          const created = await deps.ledger.createAccount({ organizationId: organization.id, code, currency, debitsMustNotExceedCredits: SPENDING.has(code) }, tx);
          if (!created.ok) throw new Error(`new organization ${organization.id} already had a ${code} account`);
          if (code === spendingAccountCode(paymentScheme) && input.creditLimit) {
            const planned = planCreditLimit(input.creditLimit, paymentScheme, created.value, now);
            if (!planned.ok) throw new Rejected(planned);
            const limited = (await setOverdraft(tx, created.value.id, planned.value))!;
            await writeAudit(tx, {
              organizationId: organization.id,
              actor: input.actor,
              action: 'credit_limit.set',
              before: null,
              after: { ...describeCreditLimit(creditLimitOf(limited, now), organization), ...(input.creditLimit.temporaryDays ? { temporaryDays: input.creditLimit.temporaryDays } : {}) },
              at: now,
            });
          }
        }
        if (organization.lowCreditThreshold !== null) await setLowCreditThreshold(tx, organization, organization.lowCreditThreshold, now, { raise: false });
        await writeAudit(tx, {
          organizationId: organization.id,
          actor: input.actor,
          action: 'organization.created',
          before: null,
          after: { name, walletId, currency, paymentScheme, invoiceSetup: organization.invoiceSetup, accountCode },
          at: now,
        });
        return { ok: true as const, value: organization };
      });
    } catch (error) {
      if (error instanceof Rejected) return error.failure;
      if (isForeignKeyViolation(error)) return failure('rate_deck_not_found', `no rate deck ${input.rateDeckId}`);
      if (isUniqueViolation(error) && attempt < 3) continue;
      throw error;
    }
  }
}

/** Carries a validation failure out of the transaction, so that it rolls back. */
class Rejected extends Error {
  constructor(readonly failure: Exclude<ReturnType<typeof planCreditLimit>, { ok: true }>) {
    super(failure.message);
  }
}
