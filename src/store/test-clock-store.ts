import type { Queryable } from './database.ts';

/** Where the test clock was when last advanced, if it ever was. */
export async function savedTestClock(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ now: Date }>('SELECT now FROM test_clock');
  return result.rows[0]?.now;
}

/** Saves the test clock's time, so that a restart goes on from it (never back). */
export async function saveTestClock(db: Queryable, now: Date): Promise<void> {
  await db.query('INSERT INTO test_clock (now) VALUES ($1) ON CONFLICT (only_row) DO UPDATE SET now = greatest(test_clock.now, EXCLUDED.now)', [now]);
}
