import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

// Around the requests rather than in their routes: how they are logged, and how one that never
// became a request is answered.

type Logger = NonNullable<FastifyServerOptions['logger']>;

/** A query parameter whose value may be a secret (a key sent where a header belongs): not logged. */
const SECRET_PARAMETER = /key|token|secret|password|auth/i;

/** The request as logged: its path and query, with any secret-looking parameter's value left out. */
export function loggedUrl(url: string): string {
  const [path, query] = url.split('?', 2) as [string, string | undefined];
  if (query === undefined) return path;
  const parameters = new URLSearchParams(query);
  for (const name of new Set(parameters.keys())) if (SECRET_PARAMETER.test(name)) parameters.set(name, 'REDACTED');
  return `${path}?${parameters.toString()}`;
}

/** The logger as asked for, its request lines with `loggedUrl`. */
export function withoutSecrets(logger: Logger): Logger {
  if (logger === false) return false;
  const base = logger === true ? {} : logger;
  const req = (request: FastifyRequest) => ({ method: request.method, url: loggedUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort });
  return { ...base, serializers: { req, ...base.serializers } };
}

/** Answers, in the API's error shape, a request that never became one (Fastify's own answer has another). */
export function answerClientError(error: Error, socket: Socket): void {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const errorCode: ErrorCode = code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
  const { status, message } = ERROR_CODES[errorCode];
  const body = JSON.stringify({ error: { code: errorCode, message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
