import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startEmbeddedMaintenance, vacuumWhereDue } from '../../src/store/embedded-maintenance.ts';
import { openPglite } from '../../src/store/pglite-driver.ts';

// PGlite only: it is the database without autovacuum, and the one `serve` starts this for.
describe('maintenance of the embedded database', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openPglite(undefined);
  });

  afterAll(async () => {
    await db?.close();
  });

  async function table(name: string, rows: number): Promise<void> {
    await db.exec(`CREATE TABLE ${name} (id int PRIMARY KEY, state text NOT NULL, at int NOT NULL); CREATE INDEX ${name}_open ON ${name} (at) WHERE state = 'open'`);
    await db.query(`INSERT INTO ${name} SELECT i, 'open', i FROM generate_series(1, $1::int) AS i`, [rows]);
    // The inserts' counts must reach the statistics before the vacuum clears them.
    await db.query('SELECT pg_stat_force_next_flush()');
    await db.exec(`VACUUM (ANALYZE) ${name}`);
  }

  const stats = async (name: string) => {
    await db.query('SELECT pg_stat_force_next_flush()');
    return (await db.query<{ dead: string; vacuumed: Date | null }>(`SELECT n_dead_tup::text AS dead, last_vacuum AS vacuumed FROM pg_stat_user_tables WHERE relname = $1`, [name])).rows[0]!;
  };

  it('vacuums a table once a fifth of its rows are dead, as autovacuum would, and leaves a quiet one alone', async () => {
    await table('busy', 2000);
    await table('quiet', 2000);
    // Each update moves rows out of the partial index's state, as ending a session does.
    await db.exec(`UPDATE busy SET state = 'ended', at = at + 1 WHERE id <= 1000`);
    await db.exec(`UPDATE quiet SET at = at + 1 WHERE id <= 10`);
    const before = await stats('quiet');
    expect(Number((await stats('busy')).dead)).toBe(1000);

    expect(await vacuumWhereDue(db)).toEqual(['public.busy']);
    expect(Number((await stats('busy')).dead)).toBe(0);
    expect((await stats('quiet')).vacuumed).toEqual(before.vacuumed);
    // Nothing is due any more.
    expect(await vacuumWhereDue(db)).toEqual([]);
  });

  it('runs by itself on its interval until stopped', async () => {
    await table('sessions_like', 1000);
    await db.exec(`UPDATE sessions_like SET state = 'ended'`);
    expect(Number((await stats('sessions_like')).dead)).toBe(1000);
    const maintenance = startEmbeddedMaintenance(db, { intervalMs: 20 });
    try {
      for (let waited = 0; Number((await stats('sessions_like')).dead) > 0 && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await maintenance.stop();
    }
    expect(Number((await stats('sessions_like')).dead)).toBe(0);
  });
});
