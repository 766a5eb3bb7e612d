import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneServerAtATime } from '../../src/jobs/one-server-at-a-time.ts';
import type { Job } from '../../src/jobs/scheduler.ts';
import { openPostgres } from '../../src/store/pg-driver.ts';
import type { Database } from '../../src/store/database.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

/** A job whose run waits for the test to let it finish, counting its runs. */
function gatedJob(name: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const job = {
    runs: 0,
    name,
    nextDueAt: async () => undefined,
    async run() {
      job.runs++;
      started();
      await gate;
      return 7;
    },
  } satisfies Job & { runs: number };
  return { job, release, running };
}

describe('scheduled jobs on several servers', () => {
  let test: TestDatabase;
  let secondServer: Database;

  beforeAll(async () => {
    test = await openTestDatabase();
    // A second server's own connections to the same schema; on PGlite, the same database.
    secondServer = test.url ? await openPostgres({ connectionString: test.url }) : test.db;
  });
  afterAll(async () => {
    if (secondServer !== test.db) await secondServer.close();
    await test.close();
  });

  it.skipIf(testDatabaseKind !== 'postgres')('a job another server is running is skipped, not run twice', async () => {
    const first = gatedJob('expire_sessions');
    const second = gatedJob('expire_sessions');
    const running = oneServerAtATime(test.db, first.job).run();
    await first.running;
    expect(await oneServerAtATime(secondServer, second.job).run()).toBe(0);
    expect(second.job.runs).toBe(0);
    // Another job is not held back by it.
    const other = gatedJob('expire_holds');
    other.release();
    expect(await oneServerAtATime(secondServer, other.job).run()).toBe(7);
    first.release();
    expect(await running).toBe(7);
    // Once the first server is done, the next round may run anywhere.
    second.release();
    expect(await oneServerAtATime(secondServer, second.job).run()).toBe(7);
  });

  it('a job no other server is running runs, on either database', async () => {
    const { job, release } = gatedJob('expire_sessions');
    release();
    expect(await oneServerAtATime(test.db, job).run()).toBe(7);
    expect(job.runs).toBe(1);
  });
});
