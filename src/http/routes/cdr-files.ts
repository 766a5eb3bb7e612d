import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { CDR_FORMATS, type CdrFormat } from '../../charging/cdr/cdr.ts';
import { rateCdrFile, unusableFile, type CdrReport } from '../../charging/cdr/rate-cdr-file.ts';
import { RingbillError } from '../../errors.ts';
import { formatMicros } from '../../money/index.ts';
import { isTimeZone } from '../../organizations/billing-profile.ts';
import type { Services } from '../../services.ts';
import { requireOperator } from '../auth.ts';
import { errors } from '../schemas.ts';

export const CdrReportSchema = Type.Object(
  {
    format: Type.String(),
    dryRun: Type.Boolean(),
    lines: Type.Integer(),
    rated: Type.Integer(),
    skipped: Type.Integer({ description: 'Unanswered calls: nothing to charge.' }),
    rejected: Type.Integer(),
    unreadable: Type.Integer({ description: 'Of the rejected, the lines that are no CDR of the format at all.' }),
    duplicates: Type.Integer(),
    totals: Type.Array(Type.Object({ currency: Type.String(), amount: Type.String(), records: Type.Integer() })),
    problems: Type.Array(Type.Object({ line: Type.Integer(), outcome: Type.String({ enum: ['rejected', 'duplicate'] }), reason: Type.String() }), { description: 'Up to 1,000 lines not rated.' }),
  },
  { $id: 'CdrReport' },
);

export function presentCdrReport(report: CdrReport) {
  return { ...report, totals: report.totals.map((total) => ({ ...total, amount: formatMicros(total.amount, total.currency) })) };
}

/**
 * CDRs stored per transaction by the server. PGlite runs in the server's thread and a
 * transaction holds it whole: the CLI's 50,000 held live calls for a second at a time, 5,000
 * for about a tenth, at the same speed (docs/performance.md). On a database server a chunk's
 * transaction holds the provider's usage revenue account, which live calls post to, until it
 * commits.
 */
const SERVER_CHUNK = 5000;

/** The body of a CDR file upload, as it arrives: rated as it streams in, never held whole. */
const uploads = new WeakMap<FastifyRequest, Readable>();

export function cdrFileRoutes(services: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    // CDR files are read as a stream, however large, where rate decks are read whole. The body
    // the schema sees is empty; the handler takes the stream.
    app.addContentTypeParser('text/csv', (request, payload, done) => {
      uploads.set(request, payload as Readable);
      done(null, '');
    });
    app.post(
      '/cdr-files',
      {
        schema: {
          summary: 'Rate a CDR file',
          description:
            'The body is the file (Content-Type: text/csv): Asterisk cdr_csv Master.csv, FreeSWITCH mod_cdr_csv (default template) or Ringbill CSV. ' +
            'Each line is rated and charged to the organization its account code (or wallet ID) names, once: a record rated before is a duplicate. ' +
            'Bad lines are reported with their line number and reason; the good lines land. ' +
            'A file with no line that is a CDR of the format (empty, the wrong format, a bad header) is refused with 400 invalid_cdr_file, its problems in error.details.',
          tags: ['charging'],
          querystring: Type.Object(
            {
              format: Type.String({ enum: [...CDR_FORMATS] }),
              timezone: Type.Optional(Type.String({ maxLength: 64, description: 'The zone the file’s local times are in; default UTC.' })),
              dryRun: Type.Optional(Type.Boolean({ description: 'Rate and report, charge nothing.' })),
              name: Type.Optional(Type.String({ maxLength: 200, description: 'The file’s name, shown on the charges.' })),
            },
            { additionalProperties: false },
          ),
          consumes: ['text/csv'],
          body: Type.String({ description: 'CSV' }),
          response: { 200: Type.Ref('CdrReport'), ...errors(400, 403, 415) },
        },
      },
      async (request) => {
        requireOperator(request);
        const upload = uploads.get(request) ?? Readable.from([request.body]);
        const timeZone = request.query.timezone ?? 'UTC';
        if (!isTimeZone(timeZone)) {
          upload.resume();
          throw new RingbillError('invalid_input', `querystring/timezone "${timeZone}" is not an IANA time zone`);
        }
        const report = await rateCdrFile(services, upload, {
          format: request.query.format as CdrFormat,
          timeZone,
          dryRun: request.query.dryRun ?? false,
          chunkSize: SERVER_CHUNK,
          ...(request.query.name ? { fileName: request.query.name } : {}),
        });
        const unusable = unusableFile(report);
        if (unusable) throw new RingbillError('invalid_cdr_file', unusable, report.problems.map((problem) => ({ ...problem })));
        return presentCdrReport(report);
      },
    );
  };
}

export const cdrFileSchemas = [CdrReportSchema];
