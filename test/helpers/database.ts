import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openPglite } from '../../src/store/pglite-driver.ts';
import { openPostgres } from '../../src/store/pg-driver.ts';

/** Which database this run of the suite uses: PGlite, or the PostgreSQL server in TEST_DATABASE_URL. */
export const testDatabaseKind = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestDatabase {
  db: Database;
  /** A connection string for a child process, or undefined on PGlite. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: an in-memory PGlite, or, when TEST_DATABASE_URL
 * is set, a schema of its own on that server (dropped at the end).
 */
export async function openTestDatabase(options: { migrated?: boolean; maxConnections?: number } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const db = await openPglite(undefined);
    if (options.migrated !== false) await migrate(db);
    return { db, url: undefined, close: () => db.close() };
  }
  const schema = await createSchema(serverUrl);
  const url = schemaUrl(serverUrl, schema);
  const db = await openPostgres({ connectionString: url, maxConnections: options.maxConnections ?? 10 });
  if (options.migrated !== false) await migrate(db);
  return {
    db,
    url,
    async close() {
      await db.close();
      await adminQuery(serverUrl, `DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

/** A new empty schema on the test server, for a child process to migrate itself. */
export async function createTestSchemaUrl(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) return undefined;
  const schema = await createSchema(serverUrl);
  return { url: schemaUrl(serverUrl, schema), drop: () => adminQuery(serverUrl, `DROP SCHEMA ${schema} CASCADE`) };
}

/**
 * A schema of its own for one test file. Extensions live in `public`, shared by every schema:
 * one created inside a test schema would vanish with it when that schema is dropped.
 */
async function createSchema(serverUrl: string): Promise<string> {
  try {
    await adminQuery(serverUrl, 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
  } catch (error) {
    // Two test files creating it at once: the other one won.
    if (!['23505', '42710'].includes((error as { code?: string }).code ?? '')) throw error;
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE SCHEMA ${schema}`);
  return schema;
}

function schemaUrl(serverUrl: string, schema: string): string {
  const url = new URL(serverUrl);
  url.searchParams.set('options', `-c search_path=${schema},public`);
  return url.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
