import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import postgresDate from 'postgres-date';
import { DirectDatabase, toDriverParams, type Database, type Queryable, type QueryResult, type SqlValue } from './database.ts';

/**
 * PGlite reads a timestamptz with `new Date(text)`, and V8 takes "0001-01-01 00:00:00+00" for
 * 2001: a deck effective from year 1 would come back as 2001. `postgres-date` is what `pg` reads
 * them with, so both databases give the same instant.
 */
// Its types declare an ES default export; it is CommonJS, whose default import is the function.
const parseDate = postgresDate as unknown as (text: string) => Date | number | null;
const parsers = { [types.INT8]: (text: string) => BigInt(text), [types.TIMESTAMPTZ]: (text: string) => parseDate(text) };

/** Opens the embedded database: in memory when `dataDir` is undefined, else persisted there. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const pglite = await PGlite.create({ dataDir, parsers, extensions: { pg_trgm } });
  return new PgliteDatabase(pglite);
}

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<Row>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<Row>> {
      const result = await target.query<Row>(sql, toDriverParams(params));
      return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
    async copyFromCsv(table: string, columns: readonly string[], csv: string | Uint8Array): Promise<void> {
      // PGlite reads COPY input from the blob it is given as /dev/blob.
      await target.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([csv]) });
    },
  };
}

class PgliteDatabase extends DirectDatabase {
  readonly kind = 'pglite' as const;

  constructor(private readonly pglite: PGlite) {
    super(wrap(pglite));
  }

  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pglite.transaction((tx) => work(wrap(tx)));
  }

  async close(): Promise<void> {
    await this.pglite.close();
  }
}
