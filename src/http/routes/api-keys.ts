import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listApiKeys, revokeApiKey, type ApiKey } from '../../auth/api-keys.ts';
import { unwrap } from '../../errors.ts';
import type { Services } from '../../services.ts';
import { requireOperator, type KeyResolver } from '../auth.ts';
import { errors, Timestamp, Uuid } from '../schemas.ts';

const ApiKeySchema = Type.Object(
  {
    id: Type.String(),
    prefix: Type.String({ description: 'The secret’s first characters, to tell keys apart.' }),
    role: Type.String({ enum: ['operator', 'organization'] }),
    organizationId: Type.Union([Uuid, Type.Null()]),
    name: Type.String(),
    createdAt: Timestamp,
    revokedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'ApiKey' },
);

function presentApiKey(key: ApiKey) {
  return {
    id: key.id,
    prefix: key.prefix,
    role: key.role,
    organizationId: key.organizationId,
    name: key.name,
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

/** Listing and revoking API keys: the operator's (keys are created per organization, or on the command line). */
export function apiKeyRoutes(services: Services, keys: KeyResolver): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/api-keys',
      {
        schema: {
          summary: 'List API keys',
          description: 'Newest first, revoked ones included. Secrets are never shown again after creation.',
          tags: ['api keys'],
          querystring: Type.Object({ organizationId: Type.Optional(Uuid) }, { additionalProperties: false }),
          response: { 200: Type.Object({ data: Type.Array(Type.Ref('ApiKey')) }), ...errors(403) },
        },
      },
      async (request) => {
        requireOperator(request);
        const found = await listApiKeys(services.db, request.query.organizationId ? { organizationId: request.query.organizationId } : {});
        return { data: found.map(presentApiKey) };
      },
    );

    app.delete(
      '/api-keys/:id',
      {
        schema: {
          summary: 'Revoke an API key',
          description:
            'The key stops working at once on this server and within 10 seconds on others. Revoking a revoked key answers it again. ' +
            'The last working operator key cannot be revoked (409 last_operator_key): create another first.',
          tags: ['api keys'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Type.Ref('ApiKey'), ...errors(403, 404, 409) },
        },
      },
      async (request) => {
        requireOperator(request);
        const revoked = unwrap(await revokeApiKey(services.db, services.clock, request.params.id, request.principal.keyId));
        keys.forget();
        return presentApiKey(revoked);
      },
    );
  };
}

export const apiKeySchemas = [ApiKeySchema];
