/** A value a query parameter may take. bigint travels as its decimal text, never through a float. */
export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[] | Record<string, unknown>;

/** Adds a value to a statement's parameters and answers its placeholder (`$3`). */
export type SqlParam = (value: SqlValue) => string;

/**
 * For `INSERT ... SELECT * FROM unnest(...)`, many rows in one statement: a column of `rows` as one
 * array parameter of the given type.
 */
export function arrayColumns<T>(rows: readonly T[], param: SqlParam): (pick: (row: T) => SqlValue, type: string) => string {
  return (pick, type) => `${param(rows.map(pick))}::${type}[]`;
}

/** Runs a statement whose text places its own parameters, for statements also composed into larger ones. */
export function queryWith<Row = Record<string, unknown>>(db: Queryable, build: (param: SqlParam) => string): Promise<QueryResult<Row>> {
  const params: SqlValue[] = [];
  const sql = build((value) => `$${params.push(value)}`);
  return db.query<Row>(sql, params);
}

export interface QueryResult<Row> {
  rows: Row[];
  /** Rows changed by INSERT / UPDATE / DELETE. */
  affectedRows: number;
}

/** What both drivers offer, inside a transaction or not. One SQL dialect: PostgreSQL. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements, with no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Bulk-loads CSV rows (no header) with COPY: the fastest way PostgreSQL takes rows. */
  copyFromCsv(table: string, columns: readonly string[], csv: string | Uint8Array): Promise<void>;
}

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * What both drivers share: statements outside a transaction go straight to the driver's own
 * Queryable; each driver adds its transactions and its close.
 */
export abstract class DirectDatabase implements Database {
  abstract readonly kind: DatabaseKind;

  constructor(private readonly direct: Queryable) {}

  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<Row>> {
    return this.direct.query<Row>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.direct.exec(sql);
  }

  copyFromCsv(table: string, columns: readonly string[], csv: string | Uint8Array): Promise<void> {
    return this.direct.copyFromCsv(table, columns, csv);
  }

  abstract transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  abstract close(): Promise<void>;
}

/** PostgreSQL's unique_violation, raised by both drivers. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** PostgreSQL's foreign_key_violation: a reference to a row that does not exist. */
export function isForeignKeyViolation(error: unknown): boolean {
  return sqlState(error) === '23503';
}

/** Errors worth retrying the whole transaction for: serialization failure and deadlock. */
export function isRetryableConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}

function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Parameters as the drivers want them: bigints as text, so no value ever passes through a float. */
export function toDriverParams(params: readonly SqlValue[] | undefined): unknown[] {
  if (!params) return [];
  return params.map(toDriverValue);
}

function toDriverValue(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map((item: SqlValue) => toDriverValue(item));
  return value;
}
