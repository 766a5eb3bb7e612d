import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createApiKey } from '../../auth/api-keys.ts';
import { RingbillError, unwrap } from '../../errors.ts';
import { createOrganization } from '../../organizations/create-organization.ts';
import type { Organization } from '../../organizations/organization.ts';
import { findOrganization } from '../../organizations/organization-store.ts';
import type { Services } from '../../services.ts';
import { requireOperator, requireOrganization } from '../auth.ts';
import { CurrencyCode, errors, Timestamp, Uuid } from '../schemas.ts';

export const OrganizationSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    currency: CurrencyCode,
    accounts: Type.Record(Type.String(), Type.String(), { description: 'The organization’s ledger accounts by code (credit, funds, receivable, unbilled).' }),
    createdAt: Timestamp,
  },
  { $id: 'Organization' },
);

const OrganizationParams = Type.Object({ id: Uuid });

export function organizationRoutes(services: Services): FastifyPluginAsyncTypebox {
  async function present(organization: Organization) {
    const accounts = await services.ledger.listAccounts({ organizationId: organization.id, limit: 200 });
    return {
      id: organization.id,
      name: organization.name,
      currency: organization.currency,
      accounts: Object.fromEntries(accounts.map((account) => [account.code, account.id])),
      createdAt: organization.createdAt.toISOString(),
    };
  }

  async function visibleOrganization(request: Parameters<typeof requireOrganization>[0], id: string): Promise<Organization> {
    requireOrganization(request, id);
    const organization = await findOrganization(services.db, id);
    if (!organization) throw new RingbillError('organization_not_found');
    return organization;
  }

  return async (app) => {
    app.post(
      '/organizations',
      {
        schema: {
          summary: 'Create an organization',
          tags: ['organizations'],
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), currency: CurrencyCode }, { additionalProperties: false }),
          response: { 201: OrganizationSchema, ...errors(403) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const organization = unwrap(await createOrganization(services, request.body));
        return reply.code(201).send(await present(organization));
      },
    );

    app.get(
      '/organizations/:id',
      { schema: { summary: 'Get an organization', tags: ['organizations'], params: OrganizationParams, response: { 200: OrganizationSchema, ...errors(404) } } },
      async (request) => present(await visibleOrganization(request, request.params.id)),
    );

    app.post(
      '/organizations/:id/api-keys',
      {
        schema: {
          summary: 'Create an API key for an organization',
          description: 'The key sees only this organization. Its secret is in this response once and is stored only as a hash.',
          tags: ['api keys'],
          params: OrganizationParams,
          body: Type.Object({ name: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false }),
          response: {
            201: Type.Object({
              id: Type.String(),
              key: Type.String({ description: 'The secret: send it as "Authorization: Bearer <key>". Shown only now.' }),
              prefix: Type.String(),
              role: Type.Literal('organization'),
              organizationId: Uuid,
              name: Type.String(),
              createdAt: Timestamp,
            }),
            ...errors(403, 404),
          },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const organization = await visibleOrganization(request, request.params.id);
        const key = await createApiKey(services.db, services.clock, { role: 'organization', organizationId: organization.id }, request.body.name ?? '');
        return reply.code(201).send({
          id: key.id,
          key: key.secret,
          prefix: key.prefix,
          role: 'organization' as const,
          organizationId: organization.id,
          name: key.name,
          createdAt: key.createdAt.toISOString(),
        });
      },
    );
  };
}
