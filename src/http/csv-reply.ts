import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * Sends CSV as a download, a piece at a time as `csv` yields it: the route's response schema
 * (CsvResponse) only documents it, a stream is never serialized.
 */
export function sendCsv(reply: FastifyReply, fileName: string, csv: AsyncIterable<string>): FastifyReply {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${fileName}"`).send(Readable.from(csv));
}
