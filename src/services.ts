import type { Clock } from './clock/clock.ts';
import { expireSessionsJob } from './charging/expire-sessions-job.ts';
import { oneServerAtATime } from './jobs/one-server-at-a-time.ts';
import { Scheduler } from './jobs/scheduler.ts';
import { expireHoldsJob } from './ledger/expire-holds-job.ts';
import { Ledger } from './ledger/ledger.ts';
import { expireCreditLimitsJob } from './organizations/expire-credit-limits-job.ts';
import { OrganizationCache } from './organizations/organization-cache.ts';
import { Rating } from './rating/rating.ts';
import { SessionCache } from './charging/session-cache.ts';
import type { Database } from './store/database.ts';

/** Everything a request, a CLI command or a job needs, built once per process. */
export interface Services {
  readonly db: Database;
  readonly clock: Clock;
  readonly ledger: Ledger;
  readonly scheduler: Scheduler;
  readonly rating: Rating;
  /** Organizations for the charging path, read at most every few seconds. */
  readonly organizations: OrganizationCache;
  /** Live call sessions as this process last wrote them. */
  readonly sessions: SessionCache;
}

export function createServices(db: Database, clock: Clock, onJobError?: (error: unknown) => void): Services {
  const ledger = new Ledger(db, clock);
  const rating = new Rating(db);
  const organizations = new OrganizationCache(db);
  const sessions = new SessionCache();
  const jobs = [expireSessionsJob({ db, ledger, clock, rating, organizations, sessions }, onJobError), expireHoldsJob(ledger), expireCreditLimitsJob(db, clock)];
  const scheduler = new Scheduler(
    clock,
    jobs.map((job) => oneServerAtATime(db, job)),
    onJobError,
  );
  return { db, clock, ledger, scheduler, rating, organizations, sessions };
}
