/** The typed arrays that columns of many rows are kept in, outside the collector's way. */
export type Column = Int32Array | Uint8Array | Float64Array | BigInt64Array;

/** A longer column of the same kind, starting with `column`'s values. */
export function grown<T extends Column>(column: T, length: number): T {
  const bigger = new (column.constructor as new (length: number) => T)(length);
  bigger.set(column as never);
  return bigger;
}
