import { writeAudit } from '../audit/audit-log.ts';
import type { Clock } from '../clock/clock.ts';
import { failure, type ErrorCode, type Result } from '../errors.ts';
import { listAccounts, setAccountsCurrency } from '../ledger/ledger-store.ts';
import { lockAccountsWithoutActivity } from './organization-accounts.ts';
import type { Currency } from '../money/index.ts';
import type { Database, Queryable } from '../store/database.ts';
import { buildBillingProfile, defaultBillingProfile, type BillingProfileInput } from './billing-profile.ts';
import { ORGANIZATION_ACCOUNTS, type BillingProfile } from './organization.ts';
import { findBillingProfile, findOrganization, saveBillingProfile, updateOrganization } from './organization-store.ts';

/** Profile fields as the audit log keeps them. */
export function describeBillingProfile(profile: BillingProfile): Record<string, unknown> {
  return { ...profile, taxRate: profile.taxRate.toString(), updatedAt: profile.updatedAt.toISOString() };
}

/**
 * Replaces an organization's billing profile. The currency may change only while none of the
 * organization's accounts has a transfer: after that, its money is in the old currency.
 */
export async function putBillingProfile(
  deps: { db: Database; clock: Clock },
  input: { organizationId: string; profile: BillingProfileInput; actor: string },
): Promise<Result<BillingProfile, ErrorCode>> {
  return deps.db.transaction(async (tx) => {
    const organization = await findOrganization(tx, input.organizationId, { lock: true });
    if (!organization) return failure('organization_not_found');
    const now = deps.clock.now();
    const before = (await findBillingProfile(tx, organization.id)) ?? defaultBillingProfile(organization.name, organization.currency, now);
    // PUT replaces: what the request leaves out goes back to its default.
    const built = buildBillingProfile(input.profile, defaultBillingProfile(null, organization.currency, now), now);
    if (!built.ok) return built;
    const profile = built.value;
    if (profile.currency !== organization.currency) {
      const changed = await changeCurrency(tx, organization.id, profile.currency);
      if (!changed.ok) return changed;
      await updateOrganization(tx, { ...organization, currency: profile.currency, updatedAt: now });
    }
    await saveBillingProfile(tx, organization.id, profile);
    await writeAudit(tx, {
      organizationId: organization.id,
      actor: input.actor,
      action: 'billing_profile.updated',
      before: describeBillingProfile(before),
      after: describeBillingProfile(profile),
      at: now,
    });
    return { ok: true, value: profile };
  });
}

async function changeCurrency(tx: Queryable, organizationId: string, currency: Currency): Promise<Result<void, 'currency_locked'>> {
  if (!(await lockAccountsWithoutActivity(tx, organizationId))) return failure('currency_locked');
  // Opened by an operator before such codes were refused: the organization's own accounts
  // cannot take that currency beside them.
  const taken = await listAccounts(tx, { organizationId, currency, codes: ORGANIZATION_ACCOUNTS, limit: ORGANIZATION_ACCOUNTS.length });
  if (taken.length > 0) {
    return failure('currency_locked', `the organization already has ${taken.map((account) => `a ${account.code} account (${account.id})`).join(' and ')} in ${currency}; its own accounts cannot move to it`);
  }
  // Its own accounts only: one the operator opened for it in some currency keeps that currency.
  await setAccountsCurrency(tx, organizationId, ORGANIZATION_ACCOUNTS, currency);
  return { ok: true, value: undefined };
}
