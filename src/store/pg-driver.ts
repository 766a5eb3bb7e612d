import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DirectDatabase, toDriverParams, type Database, type Queryable, type QueryResult, type SqlValue } from './database.ts';

const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;

type Parser = (text: string) => unknown;
const builtinParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => Parser;

// Per-pool type parsers, so that BIGINT arrives as bigint without touching pg's global state.
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): Parser {
    if (oid === INT8_OID) return (text) => BigInt(text);
    if (oid === INT8_ARRAY_OID) {
      // pg's own int8[] parser yields the elements as strings.
      const parseArray = builtinParser(INT8_ARRAY_OID) as (text: string) => (string | null)[];
      return (text) => parseArray(text).map((item) => (item === null ? null : BigInt(item)));
    }
    return builtinParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; the ledger needs few connections because it batches. */
  maxConnections?: number;
}

export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    types: typeParsers,
  });
  // An idle connection the server drops (a restart, a failover, a proxy's idle timeout) is an
  // 'error' event on the pool: unhandled, it ends the process. The pool opens a new one when
  // next asked; the queries of a dropped busy connection fail on their own.
  pool.on('error', (error) => console.error('PostgreSQL connection lost (a new one is opened when needed):', error.message));
  // Fail at start, with the server's own message, rather than on the first request.
  const client = await pool.connect();
  client.release();
  return new PostgresDatabase(pool);
}

function wrap(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<Row>> {
      const result = await target.query(sql, toDriverParams(params));
      return { rows: result.rows as Row[], affectedRows: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      // Without parameters pg uses the simple query protocol, which runs several statements.
      await target.query(sql);
    },
    async copyFromCsv(table: string, columns: readonly string[], csv: string | Uint8Array): Promise<void> {
      const client = 'release' in target ? target : await target.connect();
      try {
        await pipeline(Readable.from([csv]), client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv)`)));
      } finally {
        if (client !== target) (client as pg.PoolClient).release();
      }
    },
  };
}

class PostgresDatabase extends DirectDatabase {
  readonly kind = 'postgres' as const;

  constructor(private readonly pool: pg.Pool) {
    super(wrap(pool));
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection whose ROLLBACK failed is in an unknown state: drop it rather than reuse it.
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(wrap(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
