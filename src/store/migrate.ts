import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Postgrator from 'postgrator';
import type { Database } from './database.ts';

const MIGRATIONS = fileURLToPath(new URL('./migrations/*.sql', import.meta.url));
// Any constant: it only has to be the same in every Ringbill process.
const MIGRATION_LOCK = 7_311_000_001;

export class SchemaTooNewError extends Error {
  constructor(
    readonly databaseVersion: number,
    readonly newestKnown: number,
  ) {
    super(`the database's schema is at migration ${databaseVersion}, newer than this Ringbill knows (${newestKnown}): run the Ringbill that migrated it, or a newer one`);
    this.name = 'SchemaTooNewError';
  }
}

/**
 * Migrations whose file changed after installs had run it (which must not happen again), with the
 * checksum of each text they may have run. Such an install's recorded checksum is set to the
 * file's, and what the change did is done by a later migration; postgrator would otherwise
 * refuse every start with "MD5 checksum failed".
 */
const RUN_AS_EARLIER_TEXTS: ReadonlyMap<number, readonly string[]> = new Map([
  // 005 with `AND account.currency = organization.currency`, run from 120e0d2 to 06aaea8; 008 does it.
  [5, ['408214a8876462abc852379ba607d57a']],
]);

/** postgrator's checksum of a migration file: the MD5 of its text. */
function checksumOf(version: number): string {
  const file = readdirSync(path.dirname(MIGRATIONS)).find((name) => name.startsWith(`${String(version).padStart(3, '0')}.do.`))!;
  return createHash('md5').update(readFileSync(path.join(path.dirname(MIGRATIONS), file), 'utf8'), 'utf8').digest('hex');
}

export interface AppliedMigration {
  version: number;
  name: string;
}

/**
 * Brings the schema up to the newest migration. The whole run is one transaction under an
 * advisory lock, so two processes starting together cannot both migrate, and a failing
 * migration leaves the schema as it was (none of ours may use statements that refuse to run
 * inside a transaction, such as CREATE INDEX CONCURRENTLY).
 */
export async function migrate(db: Database): Promise<AppliedMigration[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const where = await tx.query<{ schema: string; database: string }>(
      'SELECT current_schema() AS schema, current_database() AS database',
    );
    const { schema, database } = where.rows[0]!;
    const postgrator = new Postgrator({
      migrationPattern: MIGRATIONS,
      driver: 'pg',
      database,
      schemaTable: `${schema}.schema_migrations`,
      execQuery: (sql: string) => tx.query(sql),
      execSqlScript: (sql: string) => tx.exec(sql),
    });
    // A schema newer than this code (a version rolled back over a database the newer one
    // migrated) is one it does not know: refuse, as postgrator would not (it has nothing to undo).
    const [current, newest] = [await postgrator.getDatabaseVersion(), await postgrator.getMaxVersion()];
    if (current > newest) throw new SchemaTooNewError(current, newest);
    for (const [version, earlier] of RUN_AS_EARLIER_TEXTS) {
      if (version > current) continue;
      await tx.query(`UPDATE ${schema}.schema_migrations SET md5 = $1 WHERE version = $2 AND md5 = ANY($3::text[])`, [checksumOf(version), version, earlier]);
    }
    const applied = await postgrator.migrate();
    return applied.map((migration) => ({ version: Number(migration.version), name: migration.name }));
  });
}
