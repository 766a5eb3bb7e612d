import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A signal that aborts when the client closes its connection before the answer is sent: a
 * timed-out switch has moved on. Made as the handler starts, before anything it awaits, and
 * aborted at once if the connection is already gone: a `close` that came while the handler
 * awaited an organization read, before the listener was there, went unheard. A response's
 * `close` comes once, after it is sent or when the connection goes first; only the second
 * aborts. (A request's own `close` means its body was read, since Node 16, so it cannot tell.)
 */
export function abandonment(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (response.destroyed || request.raw.socket?.destroyed === true) controller.abort();
  else {
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}
