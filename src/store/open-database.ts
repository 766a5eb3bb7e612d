import { chmodSync, lstatSync, mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Database } from './database.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { openPglite } from './pglite-driver.ts';
import { openPostgres } from './pg-driver.ts';

export type DatabaseLocation = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

export const DEFAULT_DATA_DIR = './.ringbill/data';

/** A database location that cannot be used as given: the message says why, for a person. */
export class DatabaseLocationError extends Error {}

/**
 * Where the database is: an explicit --data-dir wins, then DATABASE_URL (a PostgreSQL server),
 * then RINGBILL_DATA_DIR, then ./.ringbill/data.
 */
export function resolveDatabaseLocation(options: { dataDir?: string | undefined }, env: NodeJS.ProcessEnv = process.env): DatabaseLocation {
  if (options.dataDir) return { kind: 'pglite', dataDir: realDirectory(options.dataDir) };
  if (env.DATABASE_URL) return { kind: 'postgres', url: env.DATABASE_URL };
  return { kind: 'pglite', dataDir: realDirectory(env.RINGBILL_DATA_DIR || DEFAULT_DATA_DIR) };
}

/**
 * The directory with its symbolic links followed (a data directory linked to a volume): PGlite's
 * file system cannot open one through a link, and its lock must be the real directory's, whatever
 * path names it. A directory not made yet is its parent's real path and its own name.
 */
function realDirectory(directory: string): string {
  const absolute = path.resolve(directory);
  try {
    return realpathSync(absolute);
  } catch {
    // A link to nothing (a volume not mounted): PGlite would fail on it with an error of its own.
    if (lstatSync(absolute, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new DatabaseLocationError(`${absolute} is a symbolic link to ${readlinkSync(absolute)}, which does not exist`);
    }
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realDirectory(parent), path.basename(absolute));
  }
}

export function describeLocation(location: DatabaseLocation): string {
  if (location.kind === 'pglite') return `embedded PostgreSQL (PGlite) in ${location.dataDir}`;
  const url = new URL(location.url);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

export interface OpenedDatabase {
  db: Database;
  location: DatabaseLocation;
  /** Present for PGlite: the data directory's lock, held until close. */
  lock: DataDirLock | undefined;
  close(): Promise<void>;
}

/**
 * The data directory is its owner's alone, as PostgreSQL insists for its own (0700): PGlite
 * writes many of its files readable and writable by all, the WAL with every amount and key hash
 * among them. A directory made before, more open, is closed too; one owned by another user (a
 * volume mounted so) is left as its owner set it.
 */
function keepPrivate(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}

/** Opens the database for one command; for PGlite, first takes the data directory's lock. */
export async function openDatabase(location: DatabaseLocation, command: string): Promise<OpenedDatabase> {
  if (location.kind === 'postgres') {
    const db = await openPostgres({ connectionString: location.url });
    return { db, location, lock: undefined, close: () => db.close() };
  }
  const lock = lockDataDir(location.dataDir, command);
  try {
    keepPrivate(location.dataDir);
    const db = await openPglite(location.dataDir);
    return {
      db,
      location,
      lock,
      async close() {
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
