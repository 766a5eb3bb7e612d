import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, RingbillError, type ErrorCode } from '../errors.ts';
import { NO_NUL } from './schemas.ts';

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  parentSchema?: Record<string, unknown>;
  data?: unknown;
}

/**
 * What PostgreSQL refuses in a caller's input (SQLSTATE -> what to tell them): a NUL character
 * in text (22021; 22P05 in JSON), a lone UTF-16 surrogate in JSON (22P02), a time out of range.
 * The caller's to fix, not a fault of ours.
 */
const DATABASE_INPUT_FAULTS = new Map([
  ['22021', 'text must not contain the NUL character (\\u0000)'],
  ['22P05', 'text must not contain the NUL character (\\u0000)'],
  ['22P02', 'text must be valid Unicode (no lone surrogate such as \\ud800)'],
  ['22008', 'a time is out of range'],
  ['22009', 'a time is out of range'],
]);

/** The one place errors become HTTP responses: `{ "error": { "code", "message" } }`. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof RingbillError) return send(reply, request, error.code, error.message, error.details);
  const fastifyError = (error ?? {}) as Partial<FastifyError>;
  const issues = fastifyError.validation as ValidationIssue[] | undefined;
  if (issues?.[0]?.keyword === 'required' && issues[0].params.missingProperty === 'idempotency-key') return send(reply, request, 'idempotency_key_required');
  if (issues) return send(reply, request, 'invalid_input', describeValidation(fastifyError.validationContext ?? 'request', issues));
  const refusedInput = DATABASE_INPUT_FAULTS.get(fastifyError.code ?? '');
  if (refusedInput) return send(reply, request, 'invalid_input', refusedInput);
  const status = fastifyError.statusCode ?? 500;
  if (status === 413) return send(reply, request, 'payload_too_large');
  if (status === 415) return send(reply, request, 'unsupported_media_type', fastifyError.message);
  if (status >= 400 && status < 500) return send(reply, request, 'invalid_input', fastifyError.message);
  request.log.error({ err: error }, 'request failed');
  return send(reply, request, 'internal_error');
}

export function send(reply: FastifyReply, request: FastifyRequest, code: ErrorCode, message?: string, details?: readonly Record<string, unknown>[]): FastifyReply {
  const status = ERROR_CODES[code].status;
  // A download that failed is no download: the error is JSON, whatever the route meant to send.
  reply.removeHeader('content-disposition');
  reply.type('application/json; charset=utf-8');
  // 4xx are the caller's to fix; only 5xx are ours to look at.
  if (status < 500) request.log.info({ code, status }, 'request refused');
  return reply.code(status).send({ error: { code, message: message ?? ERROR_CODES[code].message, ...(details ? { details } : {}) } });
}

function describeValidation(context: string, issues: readonly ValidationIssue[]): string {
  const issue = issues[0];
  if (!issue) return `${context} is not valid`;
  const field = `${context}${issue.instancePath}`;
  if (issue.parentSchema?.['x-money'] === true && typeof issue.data === 'number') {
    return `${field} must be a decimal string such as "12.50", not a JSON number`;
  }
  if (issue.parentSchema?.['x-money'] === true && issue.keyword === 'pattern') {
    // A positive amount's pattern has no sign: "-5" is refused for its sign, not its decimals.
    if (typeof issue.data === 'string' && /^-\d+(\.\d{1,6})?$/.test(issue.data)) return `${field} must not be negative`;
    return `${field} must be a decimal string with at most 6 decimals, such as "12.50"`;
  }
  if (issue.keyword === 'pattern' && issue.params.pattern === NO_NUL) return `${field} must not contain the NUL character (\\u0000)`;
  if (issue.keyword === 'additionalProperties') return `${field} has an unknown field "${String(issue.params.additionalProperty)}"`;
  if (issue.keyword === 'required') return `${field} is missing the field "${String(issue.params.missingProperty)}"`;
  // Ajv's own words for these ("must be equal to one of the allowed values") leave the caller guessing which.
  if (issue.keyword === 'enum' && Array.isArray(issue.params.allowedValues)) return `${field} must be one of ${issue.params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  if (issue.keyword === 'const') return `${field} must be ${JSON.stringify(issue.params.allowedValue)}`;
  return `${field} ${issue.message ?? 'is not valid'}`;
}
