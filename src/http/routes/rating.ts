import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { RingbillError, unwrap } from '../../errors.ts';
import { formatMicros, formatPlainMicros, parseCurrency } from '../../money/index.ts';
import { findOrganization } from '../../organizations/organization-store.ts';
import { formatDecimal } from '../../rating/rational.ts';
import { exportRateDeck, versionToExport } from '../../rating/export-rate-deck.ts';
import { importRateDeck } from '../../rating/import-rate-deck.ts';
import { notAnIsoTime, parseIsoTime } from '../../rating/parse-rate-deck.ts';
import { quote } from '../../rating/quote.ts';
import { currencyMismatch, versionTakingOver } from '../../rating/rating.ts';
import { MAX_DESTINATION_LENGTH } from '../../rating/dialled-number.ts';
import { MAX_CALL_SECONDS, MAX_QUANTITY } from '../../rating/price.ts';
import { SERVICES, type RateRow, type Service } from '../../rating/rate-plan.ts';
import { findDeck, listDecks, listVersions, setDefaultDeck, type RateDeck, type RateDeckVersion } from '../../rating/rate-deck-store.ts';
import type { Services } from '../../services.ts';
import { requireOperator, requireOrganization } from '../auth.ts';
import { sendCsv } from '../csv-reply.ts';
import { CsvResponse, CurrencyCode, errors, PlainText, Timestamp, Uuid } from '../schemas.ts';
import { timestampOf } from '../timestamps.ts';

const VersionSchema = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  effectiveFrom: Timestamp,
  inForceUntil: Type.Union([Timestamp, Type.Null()], {
    description: 'When another version takes over (a later date, or the same date and a later import); null: none does. A version dated before the one in force prices only the calls before that one’s date.',
  }),
  rowCount: Type.Integer(),
  source: Type.String(),
  createdAt: Timestamp,
});

const DeckSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    currency: Type.Union([CurrencyCode, Type.Null()], { description: 'Null: prices are in the currency of the organization rated.' }),
    isDefault: Type.Boolean(),
    versions: Type.Array(VersionSchema),
    createdAt: Timestamp,
  },
  { $id: 'RateDeck' },
);

const RowSchema = Type.Object({
  line: Type.Integer(),
  service: Type.String(),
  prefix: Type.String(),
  destination: Type.String(),
  connectFee: Type.String(),
  rate: Type.String(),
  rateUnitSeconds: Type.Integer(),
  increments: Type.String(),
  intervalStartSeconds: Type.Integer(),
  minDurationSeconds: Type.Integer(),
  rounding: Type.String(),
  maxCost: Type.Union([Type.String(), Type.Null()]),
  maxCostStrategy: Type.Union([Type.String(), Type.Null()]),
  effectiveFrom: Timestamp,
  effectiveTo: Type.Union([Timestamp, Type.Null()], { description: 'The row prices calls before this time only (a promotion); null: no end.' }),
});

function presentVersion(version: RateDeckVersion, versions: readonly RateDeckVersion[]) {
  const next = versionTakingOver(versions, version);
  return {
    id: version.id,
    version: version.version,
    effectiveFrom: version.effectiveFrom.toISOString(),
    inForceUntil: next ? next.effectiveFrom.toISOString() : null,
    rowCount: version.rowCount,
    source: version.source,
    createdAt: version.createdAt.toISOString(),
  };
}

function presentDeck(deck: RateDeck, versions: RateDeckVersion[]) {
  return { id: deck.id, name: deck.name, currency: deck.currency, isDefault: deck.isDefault, versions: versions.map((version) => presentVersion(version, versions)), createdAt: deck.createdAt.toISOString() };
}

function presentRow(row: RateRow) {
  return {
    line: row.line,
    service: row.service,
    prefix: row.prefix,
    destination: row.destination,
    connectFee: formatDecimal(row.connectFee),
    rate: formatDecimal(row.rate),
    rateUnitSeconds: row.rateUnitSeconds,
    increments: `${row.firstIncrementSeconds}/${row.nextIncrementSeconds}`,
    intervalStartSeconds: row.intervalStartSeconds,
    minDurationSeconds: row.minDurationSeconds,
    rounding: `${row.rounding.method}:${row.rounding.decimals}`,
    maxCost: row.maxCost ? formatDecimal(row.maxCost) : null,
    maxCostStrategy: row.maxCostStrategy,
    effectiveFrom: row.effectiveFrom.toISOString(),
    effectiveTo: row.effectiveTo ? row.effectiveTo.toISOString() : null,
  };
}

const ServiceSchema = Type.String({ enum: [...SERVICES], default: 'voice' });

/** The largest rate deck taken over HTTP: a 1,000,000-row deck is about 50 MB. */
const MAX_DECK_BYTES = 256 * 1024 * 1024;

export function ratingRoutes(services: Services): FastifyPluginAsyncTypebox {
  async function deckOr404(id: string): Promise<RateDeck> {
    const deck = await findDeck(services.db, id);
    if (!deck) throw new RingbillError('rate_deck_not_found');
    return deck;
  }

  function at(request: FastifyRequest, text: string | undefined): Date {
    if (text === undefined) return services.clock.now();
    return timestampOf(text, 'at');
  }

  return async (app) => {
    // Decks are read whole, as one string: well under the longest string Node can make (512 MiB),
    // which a body past it would crash the server making.
    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: MAX_DECK_BYTES }, (_request, body, done) => done(null, body));
    app.post(
      '/rate-decks',
      {
        // Before the body is read: a key that may not import decks does not get to send one.
        preParsing: async (request) => requireOperator(request),
        schema: {
          summary: 'Import a rate deck (CSV)',
          description:
            'The body is the deck in Ringbill’s CSV format (Content-Type: text/csv; see docs/rating.md). It becomes a new version of the deck ' +
            '`name`. Every row is checked: if any has a problem, nothing is stored and the answer lists each problem with its line.',
          tags: ['rating'],
          querystring: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 100 }),
              effectiveFrom: Type.Optional(
                Type.String({
                  minLength: 1,
                  maxLength: 40,
                  description: 'When the version comes into force: an ISO 8601 date (midnight UTC) or a time with an offset, as a deck row’s dates. Default: the earliest date of its rows (a row without one: now).',
                }),
              ),
              currency: Type.Optional(CurrencyCode),
              default: Type.Optional(Type.Boolean({ description: 'Make it the provider’s default deck.' })),
            },
            { additionalProperties: false },
          ),
          consumes: ['text/csv'],
          body: Type.String({ description: 'CSV' }),
          response: { 201: Type.Ref('RateDeck'), ...errors(403, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const query = request.query;
        const currency = query.currency === undefined ? undefined : parseCurrency(query.currency);
        if (query.currency !== undefined && !currency) throw new RingbillError('invalid_input', `querystring/currency "${query.currency}" is not an ISO 4217 code`);
        const imported = unwrap(
          await importRateDeck(services, request.body, {
            name: query.name,
            ...(query.effectiveFrom !== undefined ? { effectiveFrom: effectiveFromOf(query.effectiveFrom) } : {}),
            ...(currency ? { currency } : {}),
            ...(query.default ? { makeDefault: true } : {}),
            source: 'api',
          }),
        );
        services.rating.invalidate();
        return reply.code(201).send(presentDeck(imported.deck, await listVersions(services.db, imported.deck.id)));
      },
    );

    app.get('/rate-decks', { schema: { summary: 'List rate decks', tags: ['rating'], response: { 200: Type.Object({ data: Type.Array(Type.Ref('RateDeck')) }), ...errors(403) } } }, async (request) => {
      requireOperator(request);
      const decks = await listDecks(services.db);
      return { data: await Promise.all(decks.map(async (deck) => presentDeck(deck, await listVersions(services.db, deck.id)))) };
    });

    app.get(
      '/rate-decks/:id',
      { schema: { summary: 'Get a rate deck', tags: ['rating'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: Type.Ref('RateDeck'), ...errors(403, 404) } } },
      async (request) => {
        requireOperator(request);
        const deck = await deckOr404(request.params.id);
        return presentDeck(deck, await listVersions(services.db, deck.id));
      },
    );

    app.patch(
      '/rate-decks/:id',
      {
        schema: {
          summary: 'Make a rate deck the default',
          description: 'The default deck prices every organization that has no deck of its own.',
          tags: ['rating'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          body: Type.Object({ default: Type.Literal(true) }, { additionalProperties: false }),
          response: { 200: Type.Ref('RateDeck'), ...errors(403, 404) },
        },
      },
      async (request) => {
        requireOperator(request);
        const deck = await deckOr404(request.params.id);
        await services.db.transaction((tx) => setDefaultDeck(tx, deck.id));
        services.rating.invalidate();
        return presentDeck({ ...deck, isDefault: true }, await listVersions(services.db, deck.id));
      },
    );

    app.get(
      '/rate-decks/:id/export',
      {
        schema: {
          summary: 'Download a version of a rate deck as CSV',
          description:
            'Every row in the import format, every column written out, in the order imported: importing the file gives the same prices. ' +
            'The version numbered, else the one in force now (at), else the newest.',
          tags: ['rating'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })), at: Type.Optional(Timestamp) }, { additionalProperties: false }),
          response: { 200: CsvResponse('The version’s rows, header first'), ...errors(403, 404) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const deck = await deckOr404(request.params.id);
        const version = versionToExport(await listVersions(services.db, deck.id), { ...(request.query.version ? { version: request.query.version } : {}), at: at(request, request.query.at) });
        if (!version) throw new RingbillError('rate_deck_not_found', `${deck.name} has no version ${request.query.version ?? ''}`.trim());
        return sendCsv(reply, `${deck.name}-v${version.version}.csv`, exportRateDeck(services.db, version.id));
      },
    );

    app.get(
      '/organizations/:id/rates',
      {
        schema: {
          summary: 'An organization’s price list as CSV',
          description:
            'The rows of the rate deck that prices the organization (its own, else the default), in the version in force now, in the deck CSV format, ' +
            'in the organization’s currency. Organization keys may read their own.',
          tags: ['rating'],
          params: Type.Object({ id: Uuid }),
          response: { 200: CsvResponse('The price list, header first'), ...errors(404, 422) },
        },
      },
      async (request, reply) => {
        requireOrganization(request, request.params.id);
        const organization = await findOrganization(services.db, request.params.id);
        if (!organization) throw new RingbillError('organization_not_found');
        const found = await services.rating.versionFor(organization, services.clock.now());
        // A deck whose first version starts later prices nothing yet: for a price list, no deck.
        if (!found.ok) throw new RingbillError('no_rate_deck', found.message);
        const mismatch = currencyMismatch(found.value.deck, organization);
        if (mismatch) throw new RingbillError(mismatch.code, mismatch.message);
        return sendCsv(reply, `rates-${organization.walletId}.csv`, exportRateDeck(services.db, found.value.version.id));
      },
    );

    app.get(
      '/rate-decks/:id/lookup',
      {
        schema: {
          summary: 'The rate rows that would price a number',
          tags: ['rating'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          querystring: Type.Object(
            { number: PlainText({ maxLength: MAX_DESTINATION_LENGTH }), service: Type.Optional(ServiceSchema), at: Type.Optional(Timestamp) },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({ prefix: Type.String(), destination: Type.String(), versionId: Type.String(), rows: Type.Array(RowSchema) }),
            ...errors(403, 404, 422),
          },
        },
      },
      async (request) => {
        requireOperator(request);
        await deckOr404(request.params.id);
        const found = unwrap(await services.rating.planInDeck(request.params.id, (request.query.service ?? 'voice') as Service, request.query.number, at(request, request.query.at)));
        return { prefix: found.plan.prefix, destination: found.plan.destination, versionId: found.version.id, rows: found.plan.rows.map(presentRow) };
      },
    );

    app.post(
      '/rating/quote',
      {
        schema: {
          summary: 'What a call or event would cost',
          description: 'Rates with the organization’s deck (or the default), or with a given deck, and charges nothing.',
          tags: ['rating'],
          body: Type.Object(
            {
              organizationId: Type.Optional(Uuid),
              rateDeckId: Type.Optional(Type.String({ maxLength: 64 })),
              service: Type.Optional(ServiceSchema),
              destination: PlainText({ maxLength: MAX_DESTINATION_LENGTH }),
              seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CALL_SECONDS })),
              quantity: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_QUANTITY })),
              at: Type.Optional(Timestamp),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              cost: Type.String(),
              currency: Type.Union([CurrencyCode, Type.Null()]),
              billedSeconds: Type.Optional(Type.Integer()),
              billedQuantity: Type.Optional(Type.Integer()),
              prefix: Type.String(),
              destination: Type.String(),
              rateDeckId: Type.String(),
              rateDeckVersionId: Type.String(),
            }),
            ...errors(403, 404, 422),
          },
        },
      },
      async (request) => {
        const body = request.body;
        if (!body.organizationId === !body.rateDeckId) throw new RingbillError('invalid_input', 'give organizationId or rateDeckId, one of them');
        let organization;
        if (body.organizationId) {
          requireOrganization(request, body.organizationId);
          organization = await findOrganization(services.db, body.organizationId);
          if (!organization) throw new RingbillError('organization_not_found');
        } else {
          requireOperator(request);
        }
        const service = (body.service ?? 'voice') as Service;
        const result = unwrap(
          await quote(services.rating, {
            ...(organization ? { organization } : { deckId: body.rateDeckId! }),
            service,
            destination: body.destination,
            ...(body.seconds === undefined ? {} : { seconds: body.seconds }),
            ...(body.quantity === undefined ? {} : { quantity: body.quantity }),
            at: at(request, body.at),
          }),
        );
        return {
          cost: result.currency ? formatMicros(result.cost, result.currency) : formatPlainMicros(result.cost),
          currency: result.currency,
          ...(service === 'voice' ? { billedSeconds: result.billed } : { billedQuantity: result.billed }),
          prefix: result.prefix,
          destination: result.destination,
          rateDeckId: result.found.deck.id,
          rateDeckVersionId: result.found.version.id,
        };
      },
    );
  };
}

export const ratingSchemas = [DeckSchema];

/** A version's date is read as a deck row's dates are, and as the CLI reads it: a bare date is midnight UTC. */
function effectiveFromOf(text: string): Date {
  const parsed = parseIsoTime(text);
  if (!parsed) throw new RingbillError('invalid_input', `querystring/effectiveFrom ${notAnIsoTime(text)}`);
  return parsed;
}
