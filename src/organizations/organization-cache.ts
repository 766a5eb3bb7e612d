import type { Queryable } from '../store/database.ts';
import { listAccounts } from '../ledger/ledger-store.ts';
import { findBillingProfile, findOrganization } from './organization-store.ts';
import { spendingAccountCode, type Organization } from './organization.ts';

export interface CachedOrganization {
  readonly organization: Organization;
  readonly timeZone: string;
  /** Its account ids by code: they never change, though balances do (read those fresh). */
  readonly accountIds: Readonly<Record<string, string>>;
  /** The id of the account charges debit. */
  readonly spendingAccountId: string;
}

/** How long a read is trusted: a suspension or a new time zone reaches the charging path within this. */
const TTL_MS = 5000;
const MAX_ENTRIES = 10_000;

/**
 * Organizations as the charging path needs them, read at most once every few seconds per
 * process: a live call's authorize, update and terminate would otherwise read the same rows each
 * time. Money never depends on it: balances and limits are read and checked by the ledger.
 */
export class OrganizationCache {
  private readonly entries = new Map<string, { until: number; value: Promise<CachedOrganization | undefined> }>();

  constructor(private readonly db: Queryable) {}

  get(id: string): Promise<CachedOrganization | undefined> {
    const now = Date.now();
    const entry = this.entries.get(id);
    if (entry && entry.until > now) return entry.value;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const value = this.load(id);
    value.catch(() => this.entries.delete(id));
    this.entries.set(id, { until: now + TTL_MS, value });
    return value;
  }

  /** Forgets an organization this process has just changed. */
  forget(id: string): void {
    this.entries.delete(id);
  }

  private async load(id: string): Promise<CachedOrganization | undefined> {
    const organization = await findOrganization(this.db, id);
    if (!organization) return undefined;
    const [profile, accounts] = await Promise.all([findBillingProfile(this.db, id), listAccounts(this.db, { organizationId: id, currency: organization.currency, limit: 200 })]);
    const accountIds = Object.fromEntries(accounts.map((account) => [account.code, account.id]));
    return { organization, timeZone: profile?.timeZone ?? 'UTC', accountIds, spendingAccountId: accountIds[spendingAccountCode(organization.paymentScheme)]! };
  }
}
