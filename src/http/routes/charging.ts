import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { stringify } from 'csv-stringify/sync';
import { Type } from 'typebox';
import { authorizeSession } from '../../charging/authorize-session.ts';
import { chargeEvent } from '../../charging/charge-event.ts';
import type { ChargingSession } from '../../charging/session.ts';
import { findSession, listActiveSessions } from '../../charging/session-store.ts';
import { terminateSession, updateSession } from '../../charging/update-session.ts';
import type { UsageRecord } from '../../charging/usage-record.ts';
import { listUsage, totalUsage, type UsageFilter } from '../../charging/usage-store.ts';
import { ERROR_CODES, RingbillError, unwrap } from '../../errors.ts';
import { formatMicros, type Currency } from '../../money/index.ts';
import type { Organization } from '../../organizations/organization.ts';
import { MAX_DESTINATION_LENGTH } from '../../rating/dialled-number.ts';
import { MAX_CALL_SECONDS, MAX_QUANTITY } from '../../rating/price.ts';
import type { Services } from '../../services.ts';
import { spreadsheetCell } from '../../spreadsheet-cells.ts';
import { timestampOf } from '../timestamps.ts';
import { csvPages, pages } from '../../store/pages.ts';
import { abandonment } from '../abandonment.ts';
import { requireOrganization } from '../auth.ts';
import { sendCsv } from '../csv-reply.ts';
import { errors, MoneyString, page, PageQuery, PlainText, Timestamp, Uuid } from '../schemas.ts';

const SessionSchema = Type.Object(
  {
    id: Type.String(),
    organizationId: Uuid,
    callId: Type.String(),
    state: Type.String({ enum: ['active', 'ended'] }),
    endReason: Type.Union([Type.String({ enum: ['terminated', 'expired'] }), Type.Null()]),
    destination: Type.String(),
    prefix: Type.String(),
    destinationName: Type.String(),
    grantedSeconds: Type.Integer({ description: 'How much longer the call may go on from the seconds used: 0 means disconnect now.' }),
    grantedTotalSeconds: Type.Integer({ description: 'How long the call may last from its start.' }),
    usedSeconds: Type.Integer(),
    intervalSeconds: Type.Integer(),
    expiresAt: Timestamp,
    reservedCredits: MoneyString,
    charged: MoneyString,
    cost: Type.Union([MoneyString, Type.Null()], { description: 'The final cost, once ended.' }),
    billedSeconds: Type.Union([Type.Integer(), Type.Null()]),
    currency: Type.String(),
    startedAt: Timestamp,
    endedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'ChargingSession' },
);

const UsageSchema = Type.Object(
  {
    id: Type.String(),
    service: Type.String(),
    destination: Type.String(),
    destinationName: Type.String(),
    prefix: Type.String(),
    rateDeckVersionId: Type.String(),
    startedAt: Timestamp,
    quantity: Type.Integer({ description: 'Seconds used, or messages / pages / activations.' }),
    billedQuantity: Type.Integer(),
    cost: MoneyString,
    currency: Type.String(),
    billPeriod: Type.String(),
    source: Type.String({ enum: ['session', 'event', 'cdr'] }),
    externalId: Type.String(),
  },
  { $id: 'UsageRecord' },
);

/** Usage records per statement of a CSV export. */
const EXPORT_PAGE = 5000;

const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Seconds = Type.Integer({ minimum: 0, maximum: MAX_CALL_SECONDS });

/**
 * `reportedSeconds`: the switch's own count in an update. The grant it gets is measured from
 * there, not from the seconds charged (which stop at the grant): a switch that ran past its
 * grant must not be told it may run a whole interval more from where it is.
 */
function presentSession(session: ChargingSession, currency: Currency, reportedSeconds = session.usedSeconds) {
  return {
    id: session.id,
    organizationId: session.organizationId,
    callId: session.callId,
    state: session.state,
    endReason: session.endReason,
    destination: session.destination,
    prefix: session.prefix,
    destinationName: session.destinationName,
    grantedSeconds: session.state === 'ended' ? 0 : Math.max(0, session.grantedSeconds - reportedSeconds),
    grantedTotalSeconds: session.grantedSeconds,
    usedSeconds: session.usedSeconds,
    intervalSeconds: session.intervalSeconds,
    expiresAt: session.expiresAt.toISOString(),
    reservedCredits: formatMicros(session.holdAmount, currency),
    charged: formatMicros(session.postedAmount, currency),
    cost: session.cost === null ? null : formatMicros(session.cost, currency),
    billedSeconds: session.billedSeconds,
    currency,
    startedAt: session.startedAt.toISOString(),
    endedAt: session.endedAt?.toISOString() ?? null,
  };
}

export function presentUsage(usage: UsageRecord) {
  return {
    id: usage.id,
    service: usage.service,
    destination: usage.destination,
    destinationName: usage.destinationName,
    prefix: usage.prefix,
    rateDeckVersionId: usage.rateDeckVersionId,
    startedAt: usage.startedAt.toISOString(),
    quantity: usage.quantity,
    billedQuantity: usage.billedQuantity,
    cost: formatMicros(usage.cost, usage.currency),
    currency: usage.currency,
    billPeriod: usage.billPeriod,
    source: usage.source,
    externalId: usage.externalId,
  };
}

/** A usage record as a CSV line: the texts a customer or a switch chose kept from being formulas. */
function usageCsvRow(usage: UsageRecord) {
  const row = presentUsage(usage);
  return { ...row, destination: spreadsheetCell(row.destination), destinationName: spreadsheetCell(row.destinationName), externalId: spreadsheetCell(row.externalId) };
}

export function chargingRoutes(services: Services): FastifyPluginAsyncTypebox {
  async function organizationFor(request: FastifyRequest, id: string): Promise<Organization> {
    requireOrganization(request, id);
    const cached = await services.organizations.get(id);
    if (!cached) throw new RingbillError('organization_not_found');
    return cached.organization;
  }

  /** The caller may act on a session only if it may act on its organization. */
  function scope(request: FastifyRequest): { organizationId?: string } {
    return request.principal.role === 'organization' ? { organizationId: request.principal.organizationId } : {};
  }

  async function currencyOf(session: ChargingSession): Promise<Currency> {
    return (await services.organizations.get(session.organizationId))!.organization.currency;
  }

  return async (app) => {
    app.post(
      '/charging/sessions',
      {
        schema: {
          summary: 'Authorize a call (start a charging session)',
          description:
            'May this call start, and for how long? Holds the cost of up to one interval (default 60 s, connect fee included) and answers the ' +
            'seconds granted. The same callId again returns the same session; with another destination it answers 409 idempotency_conflict. ' +
            'Without credit for the first second: 422 insufficient_credit ' +
            'with grantedSeconds 0.',
          tags: ['charging'],
          body: Type.Object(
            {
              organizationId: Uuid,
              service: Type.Optional(Type.Literal('voice')),
              destination: PlainText({ minLength: 1, maxLength: MAX_DESTINATION_LENGTH }),
              callId: PlainText({ minLength: 1, maxLength: 200 }),
              intervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Ref('ChargingSession'),
            201: Type.Ref('ChargingSession'),
            ...errors(404, 409, 503),
            422: Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }), grantedSeconds: Type.Optional(Type.Literal(0)) }),
          },
        },
      },
      async (request, reply) => {
        const signal = abandonment(request, reply);
        const organization = await organizationFor(request, request.body.organizationId);
        const result = await authorizeSession(services, {
          organization,
          destination: request.body.destination,
          callId: request.body.callId,
          ...(request.body.intervalSeconds ? { intervalSeconds: request.body.intervalSeconds } : {}),
          signal,
        });
        if (!result.ok && result.code === 'insufficient_credit') {
          return reply.code(ERROR_CODES.insufficient_credit.status as 422).send({ error: { code: result.code, message: result.message }, grantedSeconds: 0 as const });
        }
        const { session, created } = unwrap(result);
        return reply.code(created ? 201 : 200).send(presentSession(session, organization.currency));
      },
    );

    app.get(
      '/charging/sessions',
      {
        schema: {
          summary: 'Live calls: the charging sessions still active, oldest first',
          description:
            'What holds credit right now, call by call. An organization key sees its own; the operator sees every organization’s, or one’s with organizationId. ' +
            'Ended calls are in the organization’s usage.',
          tags: ['charging'],
          querystring: Type.Object({ ...PageQuery.properties, organizationId: Type.Optional(Uuid) }, { additionalProperties: false }),
          response: { 200: page(Type.Ref('ChargingSession')), ...errors(404) },
        },
      },
      async (request) => {
        const { cursor } = request.query;
        if (request.query.organizationId !== undefined) requireOrganization(request, request.query.organizationId);
        const organizationId = request.query.organizationId ?? scope(request).organizationId;
        const limit = request.query.limit ?? 50;
        const sessions = await listActiveSessions(services.db, { ...(organizationId ? { organizationId } : {}), ...(cursor ? { after: decodeCursor(cursor) } : {}), limit });
        const last = sessions.at(-1);
        return {
          data: await Promise.all(sessions.map(async (session) => presentSession(session, await currencyOf(session)))),
          nextCursor: sessions.length === limit && last ? encodeCursor(last) : null,
        };
      },
    );

    app.get(
      '/charging/sessions/:id',
      { schema: { summary: 'Get a charging session', tags: ['charging'], params: SessionParams, response: { 200: Type.Ref('ChargingSession'), ...errors(404) } } },
      async (request) => {
        const session = await findSession(services.db, request.params.id);
        const own = scope(request).organizationId;
        if (!session || (own && session.organizationId !== own)) throw new RingbillError('session_not_found');
        return presentSession(session, await currencyOf(session));
      },
    );

    app.post(
      '/charging/sessions/:id/update',
      {
        schema: {
          summary: 'Report a call’s seconds so far and hold the next interval',
          description: 'usedSeconds is cumulative from the call’s answer (its billable seconds so far). Posts their cost, holds the next interval as far as credit goes, and answers the new grant: 0 means disconnect.',
          tags: ['charging'],
          params: SessionParams,
          body: Type.Object({ usedSeconds: Seconds }, { additionalProperties: false }),
          response: { 200: Type.Ref('ChargingSession'), ...errors(404, 409, 422, 503) },
        },
      },
      async (request) => {
        const session = unwrap(await updateSession(services, { sessionId: request.params.id, usedSeconds: request.body.usedSeconds, ...scope(request) }));
        return presentSession(session, await currencyOf(session), request.body.usedSeconds);
      },
    );

    app.post(
      '/charging/sessions/:id/terminate',
      {
        schema: {
          summary: 'End a call',
          description: 'Posts the exact cost of the seconds used (within the grant), releases the rest of the hold and records the usage. Ending an ended session answers it again.',
          tags: ['charging'],
          params: SessionParams,
          body: Type.Object({ usedSeconds: Seconds }, { additionalProperties: false }),
          response: { 200: Type.Ref('ChargingSession'), ...errors(404, 422, 503) },
        },
      },
      async (request) => {
        const session = unwrap(await terminateSession(services, { sessionId: request.params.id, usedSeconds: request.body.usedSeconds, ...scope(request) }));
        return presentSession(session, await currencyOf(session));
      },
    );

    app.post(
      '/charging/events',
      {
        schema: {
          summary: 'Charge an SMS, fax or number activation',
          description:
            'Charged at once, or 422 insufficient_credit. The same eventId again charges nothing more and answers the first result; with another service, destination or quantity it answers 409 idempotency_conflict.',
          tags: ['charging'],
          body: Type.Object(
            {
              organizationId: Uuid,
              service: Type.String({ enum: ['sms', 'fax', 'number_activation'] }),
              destination: Type.Optional(PlainText({ maxLength: MAX_DESTINATION_LENGTH })),
              quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_QUANTITY, default: 1 })),
              eventId: PlainText({ minLength: 1, maxLength: 200 }),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Ref('UsageRecord'), 201: Type.Ref('UsageRecord'), ...errors(404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        const organization = await organizationFor(request, request.body.organizationId);
        const { usage, replayed } = unwrap(
          await chargeEvent(services, {
            organization,
            service: request.body.service as 'sms' | 'fax' | 'number_activation',
            destination: request.body.destination ?? '',
            quantity: request.body.quantity ?? 1,
            eventId: request.body.eventId,
          }),
        );
        return reply.code(replayed ? 200 : 201).send(presentUsage(usage));
      },
    );

    app.get(
      '/organizations/:id/usage',
      {
        schema: {
          summary: 'An organization’s usage, newest first, with totals',
          description: 'Filters: service, from (inclusive) / to (exclusive) on the start time, billPeriod (YYYY-MM), source. format=csv answers the whole filtered list as CSV.',
          tags: ['charging'],
          params: Type.Object({ id: Uuid }),
          querystring: Type.Object(
            {
              ...PageQuery.properties,
              service: Type.Optional(Type.String({ enum: ['voice', 'sms', 'fax', 'number_activation'] })),
              from: Type.Optional(Type.String({ format: 'date-time', description: 'Usage that started at or after this time.' })),
              to: Type.Optional(Type.String({ format: 'date-time', description: 'Usage that started before this time (exclusive), so that one month’s `to` is the next one’s `from`.' })),
              billPeriod: Type.Optional(Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'A calendar month, YYYY-MM.' })),
              source: Type.Optional(Type.String({ enum: ['session', 'event', 'cdr'] })),
              format: Type.Optional(Type.String({ enum: ['json', 'csv'] })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: {
              description: 'A page of usage with the totals of everything the filters find; with format=csv, every record as CSV',
              content: {
                'application/json': {
                  schema: Type.Intersect([
                    page(Type.Ref('UsageRecord')),
                    Type.Object({
                      totals: Type.Array(Type.Object({ service: Type.String(), records: Type.Integer(), quantity: Type.Integer(), billedQuantity: Type.Integer(), cost: MoneyString })),
                    }),
                  ]),
                },
                'text/csv': { schema: Type.String() },
              },
            },
            ...errors(404),
          },
        },
      },
      async (request, reply) => {
        const organization = await organizationFor(request, request.params.id);
        const query = request.query;
        const filter: UsageFilter = {
          organizationId: organization.id,
          ...(query.service ? { service: query.service as UsageFilter['service'] } : {}),
          ...(query.from ? { from: timestampOf(query.from, 'querystring/from') } : {}),
          ...(query.to ? { to: timestampOf(query.to, 'querystring/to') } : {}),
          ...(query.billPeriod ? { billPeriod: query.billPeriod } : {}),
          ...(query.source ? { source: query.source as UsageFilter['source'] } : {}),
        };
        if (query.format === 'csv') {
          const records = pages<UsageRecord>((last) => listUsage(services.db, filter, { ...(last ? { before: last } : {}), limit: EXPORT_PAGE }), EXPORT_PAGE);
          const csv = csvPages(records, (rows, { header }) => stringify(rows.map(usageCsvRow), header ? { header: true, columns: Object.keys(UsageSchema.properties) } : {}));
          // A page at a time, however long the usage.
          return sendCsv(reply, `usage-${organization.walletId}.csv`, csv);
        }
        const limit = query.limit ?? 50;
        const before = query.cursor ? decodeCursor(query.cursor) : undefined;
        const [records, totals] = await Promise.all([listUsage(services.db, filter, { ...(before ? { before } : {}), limit }), totalUsage(services.db, filter)]);
        const last = records.at(-1);
        return {
          data: records.map(presentUsage),
          nextCursor: records.length === limit && last ? encodeCursor(last) : null,
          totals: totals.map((total) => ({ ...total, cost: formatMicros(total.cost, organization.currency) })),
        };
      },
    );
  };
}

/** Both lists page by start time, then id. */
function encodeCursor(item: { startedAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([item.startedAt.toISOString(), item.id])).toString('base64url');
}

function decodeCursor(text: string): { startedAt: Date; id: string } {
  try {
    const [startedAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    // A time in the database's range (year 1 to 9999), as this list writes them.
    // Ids hold no NUL (the database would refuse it, naming no field).
    if (typeof id === 'string' && typeof startedAt === 'string' && !id.includes('\u0000')) return { startedAt: timestampOf(startedAt, 'cursor'), id };
  } catch {
    // Not ours: refused below.
  }
  throw new RingbillError('invalid_input', 'querystring/cursor is not a cursor this list gave');
}

export const chargingSchemas = [SessionSchema, UsageSchema];
