import type { Database } from '../store/database.ts';
import type { Job } from './scheduler.ts';

/**
 * Runs a job on one server at a time when several share a PostgreSQL database: each server's
 * scheduler polls every second, and without this they all picked the same due rows (the same
 * thousand expired sessions) and raced one another through them. The work was right, since each
 * item re-checks its own state in the ledger, but done once per server. The lock is PostgreSQL's
 * advisory lock for the length of a transaction held while the job runs; a server that finds it
 * taken skips the round, as the one holding it is doing the work. Keyed by schema as well, so two
 * installations in one database (or the test suite's schemas) do not keep each other's jobs back.
 * An embedded database serves one process (the data-dir lock), so it needs no lock.
 */
export function oneServerAtATime(db: Database, job: Job): Job {
  if (db.kind !== 'postgres') return job;
  return {
    name: job.name,
    nextDueAt: () => job.nextDueAt(),
    run: () =>
      db.transaction(async (tx) => {
        const { rows } = await tx.query<{ locked: boolean }>(
          `SELECT pg_try_advisory_xact_lock(hashtext('ringbill.jobs'), hashtext(current_schema() || '.' || $1)) AS locked`,
          [job.name],
        );
        return rows[0]?.locked ? job.run() : 0;
      }),
  };
}
