import type { FastifyReply } from 'fastify';

/**
 * A signal that aborts when the client closes its connection before the answer is sent: a
 * timed-out switch has moved on. A response's `close` comes once, after it is sent or when the
 * connection goes first; only the second aborts. (A request's own `close` means its body was
 * read, since Node 16, so it cannot tell.)
 */
export function abandonment(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
