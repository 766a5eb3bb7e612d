import { Type, type TSchema } from 'typebox';
import { ERROR_CODES } from '../errors.ts';

/**
 * Money in JSON: a decimal string, never a JSON number (a number may already have lost digits
 * on its way through a float). `x-money` lets the error handler say so when a number arrives.
 */
export const MoneyString = Type.String({
  pattern: '^-?\\d+(\\.\\d{1,6})?$',
  description: 'A decimal amount as a string, up to 6 decimals, e.g. "12.50". JSON numbers are refused.',
  examples: ['12.50'],
  'x-money': true,
});

export const PositiveMoneyString = Type.String({
  pattern: '^\\d+(\\.\\d{1,6})?$',
  description: 'A positive decimal amount as a string, up to 6 decimals, e.g. "12.50". JSON numbers are refused.',
  examples: ['12.50'],
  'x-money': true,
});

export const CurrencyCode = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. "SGD".', examples: ['SGD'] });

export const Timestamp = Type.String({ format: 'date-time', description: 'An ISO 8601 time with `Z` or an offset; answers give it in UTC.' });

export const Uuid = Type.String({ format: 'uuid' });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ enum: Object.keys(ERROR_CODES), description: 'Machine-readable, snake_case; see the error registry.' }),
      message: Type.String({ description: 'For people; may change between versions.' }),
      details: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'Item by item, where a request has many problems (the lines of a file).' })),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error has this shape.' },
);

/** The error responses a route can give, so the OpenAPI document lists them. */
export function errors(...statuses: (400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 503)[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { 400: Type.Ref('ErrorResponse'), 401: Type.Ref('ErrorResponse') };
  for (const status of statuses) out[status] = Type.Ref('ErrorResponse');
  return out;
}

/** A response that is a CSV file: documented as text/csv, sent as a stream the schema does not serialize. */
export function CsvResponse(description: string) {
  return { description, content: { 'text/csv': { schema: Type.String() } } };
}

/** The header of the routes that move money; a request without it answers 400 idempotency_key_required. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'The same key with the same request returns the first result (Idempotent-Replayed: true); with another request, 409.',
  }),
});

/** Text without a NUL, which no database column takes: refused by the field's name, not by the database. */
export const NO_NUL = '^[^\\u0000]*$';
export function PlainText(options: { minLength?: number; maxLength?: number; description?: string } = {}) {
  return Type.String({ ...options, pattern: NO_NUL });
}

/** The query of a route that takes none: any parameter is refused by name. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The nextCursor of the previous page.' })),
});

export function page<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page.' }),
  });
}
