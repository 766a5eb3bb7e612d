import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * Sends CSV as a download, a piece at a time as `csv` yields it: the route's response schema
 * (CsvResponse) only documents it, a stream is never serialized.
 */
export function sendCsv(reply: FastifyReply, fileName: string, csv: AsyncIterable<string>): FastifyReply {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', contentDisposition(fileName)).send(Readable.from(csv));
}

/**
 * An attachment's header (RFC 6266): `filename` in plain ASCII for old clients, and `filename*`
 * with the name as it is (UTF-8, percent-encoded), which browsers prefer: "Café.csv" stays so.
 */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
  return ascii === fileName ? `attachment; filename="${fileName}"` : `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
