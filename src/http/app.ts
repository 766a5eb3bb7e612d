import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { Services } from '../services.ts';
import { KeyResolver } from './auth.ts';
import { RingbillError } from '../errors.ts';
import { answerClientError, withoutSecrets } from './transport.ts';
import { handleError, send } from './errors.ts';
import { ErrorResponse, NoQuery, errors } from './schemas.ts';
import { healthRoutes } from './routes/health.ts';
import { organizationRoutes, organizationSchemas } from './routes/organizations.ts';
import { ledgerRoutes, ledgerSchemas } from './routes/ledger.ts';
import { testClockRoutes } from './routes/test-clock.ts';
import { ratingRoutes, ratingSchemas } from './routes/rating.ts';
import { chargingRoutes, chargingSchemas } from './routes/charging.ts';
import { apiKeyRoutes, apiKeySchemas } from './routes/api-keys.ts';
import { cdrFileRoutes, cdrFileSchemas } from './routes/cdr-files.ts';

export interface AppOptions {
  services: Services;
  /** Enables /v1/test-clock; without it those routes answer 404. */
  testClock?: boolean;
  logger?: FastifyServerOptions['logger'];
}

export type App = FastifyInstance<
  FastifyInstance['server'],
  Parameters<FastifyInstance['routing']>[0],
  Parameters<FastifyInstance['routing']>[1],
  FastifyInstance['log'],
  TypeBoxTypeProvider
>;

function ajv(options: AjvOptions): Ajv {
  const instance = new Ajv({ useDefaults: true, removeAdditional: false, allErrors: false, strict: false, ...options });
  addFormats.default(instance);
  instance.addKeyword({ keyword: 'x-money', schemaType: 'boolean' });
  return instance;
}

/**
 * Bodies are validated without coercion, so a JSON number never passes as a money string;
 * query strings and paths arrive as text and are coerced to the schema's types. Fastify calls
 * this once per plugin that adds shared schemas, hence a factory rather than one instance.
 */
function buildValidator(externalSchemas: unknown) {
  const body = ajv({ coerceTypes: false, verbose: true });
  const text = ajv({ coerceTypes: 'array' });
  for (const schema of Object.values((externalSchemas ?? {}) as Record<string, object>)) {
    body.addSchema(schema);
    text.addSchema(schema);
  }
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : text).compile(schema);
}

export async function buildApp(options: AppOptions): Promise<App> {
  const app = Fastify({
    logger: withoutSecrets(options.logger ?? false),
    bodyLimit: 1024 * 1024,
    // @fastify/ajv-compiler's types describe the compiler's argument as the bare schema; at run
    // time it is the route's { schema, httpPart, ... }, which is what we need to pick a validator.
    schemaController: { compilersFactory: { buildValidator: buildValidator as never } },
    // A URL Fastify cannot decode, or a body it cannot read, gets the API's own error shape.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
    // So does a request Node's HTTP parser refuses before Fastify sees it (headers past 16 KiB).
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // The API speaks JSON only; the routes that take files (rate decks, CDR files) add their own
  // CSV parsers, so that no other route reads a large body at all.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) => send(reply, request, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`));
  for (const schema of [ErrorResponse, ...ledgerSchemas, ...organizationSchemas, ...ratingSchemas, ...chargingSchemas, ...cdrFileSchemas, ...apiKeySchemas]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ringbill API',
        version: '1',
        description:
          'Billing and real-time crediting for VoIP / CPaaS providers. Amounts are decimal strings in the ' +
          'organization’s currency; money-moving requests need an Idempotency-Key header. Errors are ' +
          '`{"error": {"code", "message"}}`.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An operator or organization API key.' } } },
      security: [{ apiKey: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const keys = new KeyResolver(options.services.db);
  app.decorateRequest('principal', undefined as never);
  // An empty POST means an empty object, so optional bodies validate like `{}`.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.method !== 'GET') request.body = {};
  });
  // By the route matched, not the URL as sent: the router decodes `/%761/...` to a /v1 route.
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url?.startsWith('/v1/')) request.principal = await keys.resolve(request.headers.authorization);
  });

  // Every route with a body may answer 413 (too large) and 415 (not JSON, or not CSV where CSV
  // is taken): said once here rather than in each route's list.
  app.addHook('onRoute', (route) => {
    // A route that takes no query parameters refuses one, as the others refuse unknown ones: a
    // `?limit=5` on a list that has no pages would otherwise pass unnoticed.
    if (route.url.startsWith('/v1/') && route.schema && !route.schema.querystring) route.schema.querystring = NoQuery;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hasBody = methods.some((method) => method === 'POST' || method === 'PUT' || method === 'PATCH');
    // A body of another media type than the route takes is refused before a byte of it is read:
    // a route that takes CSV takes no JSON string holding one, and a JSON route no large CSV.
    const consumes = (route.schema as { consumes?: readonly string[] } | undefined)?.consumes ?? ['application/json'];
    if (hasBody) {
      const earlier = route.preParsing ? [route.preParsing].flat() : [];
      route.preParsing = [
        async (request) => {
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          const empty = request.headers['content-length'] === '0' || (type === '' && request.headers['transfer-encoding'] === undefined);
          if (!empty && !consumes.includes(type)) throw new RingbillError('unsupported_media_type', `the body must be ${consumes.join(' or ')}, not ${type || 'without a Content-Type'}`);
        },
        ...earlier,
      ];
    }
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (!response || !hasBody) return;
    for (const [status, schema] of Object.entries(errors(413, 415))) response[status] ??= schema;
  });

  await app.register(healthRoutes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(organizationRoutes(options.services), { prefix: '/v1' });
  await app.register(apiKeyRoutes(options.services, keys), { prefix: '/v1' });
  await app.register(ledgerRoutes(options.services), { prefix: '/v1' });
  await app.register(ratingRoutes(options.services), { prefix: '/v1' });
  await app.register(chargingRoutes(options.services), { prefix: '/v1' });
  await app.register(cdrFileRoutes(options.services), { prefix: '/v1' });
  if (options.testClock) await app.register(testClockRoutes(options.services), { prefix: '/v1' });
  return app;
}
