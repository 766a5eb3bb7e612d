import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Database } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { openPglite } from '../src/store/pglite-driver.ts';
import { openPostgres } from '../src/store/pg-driver.ts';

export interface OpenBenchDatabase {
  db: Database;
  /** What a child process (a `ringbill` command) needs in its environment to use this database. */
  env: NodeJS.ProcessEnv;
  /** Closes the database for a while (PGlite serves one process), runs `work`, and opens it again. */
  lend<T>(work: () => Promise<T>): Promise<T>;
  close: () => Promise<void>;
}

export interface BenchDatabase {
  name: string;
  /** A PostgreSQL server's address (none for PGlite, which runs in the benchmark's process). */
  url?: string;
  open(): Promise<OpenBenchDatabase>;
}

export interface Row {
  database: string;
  workload: string;
  baseline: number;
  measurements: Record<string, number>;
}

/** PGlite always; the PostgreSQL server in BENCH_DATABASE_URL or TEST_DATABASE_URL when set; only one of them with BENCH_ONLY=PGlite|PostgreSQL. */
export function benchDatabases(): BenchDatabase[] {
  const databases: BenchDatabase[] = [
    {
      // On disk, as `npm start` runs it.
      name: 'PGlite',
      async open() {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'ringbill-bench-'));
        const dataDir = path.join(dir, 'data');
        let db = await openPglite(dataDir);
        await migrate(db);
        // The returned object's db follows reopenings.
        const opened: OpenBenchDatabase = {
          db,
          env: { RINGBILL_DATA_DIR: dataDir, DATABASE_URL: '' },
          async lend(work) {
            await db.close();
            try {
              return await work();
            } finally {
              db = await openPglite(dataDir);
              opened.db = db;
            }
          },
          async close() {
            await db.close();
            rmSync(dir, { recursive: true, force: true });
          },
        };
        return opened;
      },
    },
  ];
  const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (url) {
    databases.push({
      name: 'PostgreSQL',
      url,
      async open() {
        const schema = `bench_${randomBytes(4).toString('hex')}`;
        await admin(url, 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
        await admin(url, `CREATE SCHEMA ${schema}`);
        const scoped = new URL(url);
        scoped.searchParams.set('options', `-c search_path=${schema},public`);
        const db = await openPostgres({ connectionString: scoped.toString(), maxConnections: 40 });
        await migrate(db);
        return {
          db,
          env: { DATABASE_URL: scoped.toString() },
          lend: (work) => work(),
          async close() {
            await db.close();
            await admin(url, `DROP SCHEMA ${schema} CASCADE`);
          },
        };
      },
    });
  } else {
    console.log('(set BENCH_DATABASE_URL to a PostgreSQL server to measure it too)');
  }
  const only = process.env.BENCH_ONLY;
  return only ? databases.filter((database) => database.name === only) : databases;
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(sql);
  await client.end();
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  const names = [...new Set(rows.flatMap((row) => Object.keys(row.measurements)))];
  const header = ['database', 'workload', 'baseline', ...names.map((name) => `${name} (x baseline)`)];
  const lines = rows.map((row) => [
    row.database,
    row.workload,
    row.baseline.toFixed(0),
    ...names.map((name) => {
      const value = row.measurements[name];
      return value === undefined ? '-' : `${value.toFixed(0)} (${(value / row.baseline).toFixed(2)}x)`;
    }),
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

/** A seeded generator, so every run of a benchmark works on the same data. */
export function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
