import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { setOverdraft } from '../ledger/ledger-store.ts';
import { raiseLowBalance } from '../ledger/low-balance.ts';
import { isForeignKeyViolation, type Database } from '../store/database.ts';
import { accountsOf, lockAccountsWithoutActivity, setLowCreditThreshold } from './organization-accounts.ts';
import { spendingAccountCode, type InvoiceSetup, type Organization, type OrganizationStatus, type PaymentScheme } from './organization.ts';
import { refuseTakenAccountCode } from './account-code.ts';
import { findOrganization, updateOrganization } from './organization-store.ts';

export interface OrganizationChanges {
  name?: string;
  status?: OrganizationStatus;
  accountCode?: string | null;
  invoiceSetup?: InvoiceSetup;
  paymentScheme?: PaymentScheme;
  rateDeckId?: string | null;
  chargingIntervalSeconds?: number | null;
  lowCreditThreshold?: bigint | null;
}

/**
 * Changes an organization's own fields. The payment scheme may change only while the
 * organization has no ledger activity; its permanent credit limit moves to the new spending
 * account, and a temporary one ends (postpaid limits are never temporary).
 */
export async function changeOrganization(
  deps: { db: Database; clock: Clock },
  input: { organizationId: string; changes: OrganizationChanges; actor: string },
): Promise<Result<Organization, ErrorCode>> {
  const { changes } = input;
  if (changes.name !== undefined && (changes.name.trim().length === 0 || [...changes.name.trim()].length > 200)) {
    return failure('invalid_input', 'name must be 1 to 200 characters');
  }
  if (changes.chargingIntervalSeconds !== undefined && changes.chargingIntervalSeconds !== null && !(Number.isInteger(changes.chargingIntervalSeconds) && changes.chargingIntervalSeconds >= 1 && changes.chargingIntervalSeconds <= 3600)) {
    return failure('invalid_input', 'chargingIntervalSeconds must be 1 to 3600');
  }
  if (changes.lowCreditThreshold !== undefined && changes.lowCreditThreshold !== null && changes.lowCreditThreshold < 0n) {
    return failure('invalid_amount', 'lowCreditThreshold must not be negative');
  }
  try {
    return await apply(deps, input);
  } catch (error) {
    if (isForeignKeyViolation(error)) return failure('rate_deck_not_found', `no rate deck ${changes.rateDeckId}`);
    throw error;
  }
}

async function apply(
  deps: { db: Database; clock: Clock },
  input: { organizationId: string; changes: OrganizationChanges; actor: string },
): Promise<Result<Organization, ErrorCode>> {
  const { changes } = input;
  return deps.db.transaction(async (tx) => {
    const before = await findOrganization(tx, input.organizationId, { lock: true });
    if (!before) return failure('organization_not_found');
    const accountCode = changes.accountCode === undefined ? before.accountCode : changes.accountCode?.trim() || null;
    const taken = accountCode && accountCode !== before.accountCode ? await refuseTakenAccountCode(tx, accountCode, before.id) : undefined;
    if (taken) return taken;
    const now = deps.clock.now();
    const after: Organization = {
      ...before,
      name: changes.name?.trim() ?? before.name,
      status: changes.status ?? before.status,
      invoiceSetup: changes.invoiceSetup ?? before.invoiceSetup,
      paymentScheme: changes.paymentScheme ?? before.paymentScheme,
      rateDeckId: changes.rateDeckId === undefined ? before.rateDeckId : changes.rateDeckId,
      chargingIntervalSeconds: changes.chargingIntervalSeconds === undefined ? before.chargingIntervalSeconds : changes.chargingIntervalSeconds,
      lowCreditThreshold: changes.lowCreditThreshold === undefined ? before.lowCreditThreshold : changes.lowCreditThreshold,
      accountCode,
      updatedAt: now,
    };
    if (after.paymentScheme !== before.paymentScheme) {
      if (!(await lockAccountsWithoutActivity(tx, before.id))) return failure('payment_scheme_locked');
      const accounts = await accountsOf(tx, before);
      const from = accounts[spendingAccountCode(before.paymentScheme)];
      const to = accounts[spendingAccountCode(after.paymentScheme)];
      const spending = (await setOverdraft(tx, to.id, { permanent: from.overdraftLimit, temporary: null }))!;
      await setOverdraft(tx, from.id, { permanent: 0n, temporary: null });
      // A temporary limit ends with the old scheme: usable credit may fall past the threshold.
      await raiseLowBalance(tx, from, spending, now);
    }
    await updateOrganization(tx, after);
    if (after.lowCreditThreshold !== before.lowCreditThreshold) await setLowCreditThreshold(tx, after, after.lowCreditThreshold, now, { raise: true });
    const changed = (Object.keys(changes) as (keyof OrganizationChanges)[]).filter((field) => before[field] !== after[field]);
    if (changed.length > 0) {
      await writeAudit(tx, {
        organizationId: before.id,
        actor: input.actor,
        action: 'organization.updated',
        before: Object.fromEntries(changed.map((field) => [field, auditValue(before[field])])),
        after: Object.fromEntries(changed.map((field) => [field, auditValue(after[field])])),
        at: now,
      });
    }
    return { ok: true, value: after };
  });
}

/** JSON has no bigint: amounts go into the audit log as integer strings of micro-units. */
function auditValue(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
