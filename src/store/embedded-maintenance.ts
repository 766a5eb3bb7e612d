import { nextTurn } from '../in-turns.ts';
import type { Database, Queryable } from './database.ts';

/**
 * PGlite runs PostgreSQL without its background workers, so nothing ever vacuums or analyzes the
 * embedded database: every update of a charging session or a hold leaves a dead row and dead
 * index entries behind for good, and the planner never gets statistics. This does what
 * autovacuum would, with its default thresholds: a table is vacuumed once its dead rows exceed
 * 50 + 20% of its live ones, or 1,000 + 20% of its rows were inserted since its last vacuum
 * (which keeps the visibility map current), and analyzed once 50 + 10% of its rows changed.
 * Answers the tables it vacuumed.
 */
export async function vacuumWhereDue(db: Queryable): Promise<string[]> {
  // Counts reach pg_stat_user_tables at most once a second, when the backend is idle; this asks
  // for them to be flushed after this statement, so the next one sees them all.
  await db.query('SELECT pg_stat_force_next_flush()');
  const due = await db.query<{ name: string }>(
    `SELECT quote_ident(schemaname) || '.' || quote_ident(relname) AS name FROM pg_stat_user_tables
     WHERE schemaname = current_schema()
       AND (n_dead_tup > 50 + 0.2 * n_live_tup
         OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup
         OR n_mod_since_analyze > 50 + 0.1 * n_live_tup)
     ORDER BY n_dead_tup DESC`,
  );
  const names = due.rows.map((row) => row.name);
  // One table at a time, with a turn of the event loop between: on PGlite every statement waits
  // for the one before it, so the requests that came meanwhile go in between.
  for (const [index, name] of names.entries()) {
    if (index > 0) await nextTurn();
    await db.exec(`VACUUM (ANALYZE) ${name}`);
  }
  return names;
}

export interface Maintenance {
  stop(): Promise<void>;
}

/**
 * Runs `vacuumWhereDue` every `intervalMs` of wall-clock time (never the test clock: this is
 * housekeeping, not business time) while the embedded database is served.
 */
export function startEmbeddedMaintenance(db: Database, options: { intervalMs?: number; onError?: (error: unknown) => void } = {}): Maintenance {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= vacuumWhereDue(db)
      .catch(options.onError ?? (() => undefined))
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs ?? 5 * 60_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
