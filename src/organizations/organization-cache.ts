import DataLoader from 'dataloader';
import type { Queryable } from '../store/database.ts';
import { findOrganizationsForCharging } from './organization-store.ts';
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

interface Entry {
  readonly until: number;
  readonly value: Promise<CachedOrganization | undefined>;
  refreshing: boolean;
}

/**
 * Organizations as the charging path needs them, read at most once every few seconds per
 * process: a live call's authorize, update and terminate would otherwise read the same rows each
 * time. Money never depends on it: balances and limits are read and checked by the ledger.
 *
 * An entry past its time is still served once more while it is read again in the background
 * (up to twice its time, never older), so that a busy organization's requests never queue
 * behind its refresh.
 *
 * The reads asked for on one turn of the event loop go to the database as one statement: with
 * calls spread over a thousand organizations, one read each was two hundred statements a second,
 * and planning them cost the database more than running them (docs/performance.md).
 */
export class OrganizationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly reads: DataLoader<string, CachedOrganization | undefined>;

  constructor(db: Queryable) {
    this.reads = new DataLoader(
      async (ids) =>
        (await findOrganizationsForCharging(db, ids)).map(
          (found) => found && { ...found, spendingAccountId: found.accountIds[spendingAccountCode(found.organization.paymentScheme)]! },
        ),
      // This class keeps the entries; the loader only gathers the reads of one turn, as the
      // ledger gathers its commands.
      { cache: false, batchScheduleFn: (run) => setImmediate(run), maxBatchSize: 500 },
    );
  }

  get(id: string): Promise<CachedOrganization | undefined> {
    const now = Date.now();
    const entry = this.entries.get(id);
    if (entry && entry.until > now) return entry.value;
    if (entry && entry.until + TTL_MS > now) {
      if (!entry.refreshing) {
        entry.refreshing = true;
        const fresh = this.load(id);
        // The fresh read replaces the entry only once it has answered; a failed one drops it.
        fresh.then(
          () => this.entries.get(id) === entry && this.entries.set(id, { until: Date.now() + TTL_MS, value: fresh, refreshing: false }),
          () => this.entries.get(id) === entry && this.entries.delete(id),
        );
      }
      return entry.value;
    }
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const value = this.load(id);
    const created: Entry = { until: now + TTL_MS, value, refreshing: false };
    value.catch(() => this.entries.get(id) === created && this.entries.delete(id));
    this.entries.set(id, created);
    return value;
  }

  /** Forgets an organization this process has just changed. */
  forget(id: string): void {
    this.entries.delete(id);
  }

  private load(id: string): Promise<CachedOrganization | undefined> {
    return this.reads.load(id);
  }
}
