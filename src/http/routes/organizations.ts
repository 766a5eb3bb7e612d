import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { listAudit, writeAudit } from '../../audit/audit-log.ts';
import { createApiKey } from '../../auth/api-keys.ts';
import { RingbillError, unwrap } from '../../errors.ts';
import type { Account } from '../../ledger/types.ts';
import { formatMicros, type Currency } from '../../money/index.ts';
import type { BillingProfileInput } from '../../organizations/billing-profile.ts';
import { createOrganization } from '../../organizations/create-organization.ts';
import { creditLimitOf, MAX_TEMPORARY_DAYS, type CreditLimit } from '../../organizations/credit-limit.ts';
import { getCredits } from '../../organizations/get-credits.ts';
import { INVOICE_SETUPS, ORGANIZATION_STATUSES, PAYMENT_SCHEMES, spendingAccountCode, type BillingProfile, type Organization } from '../../organizations/organization.ts';
import { accountsOf } from '../../organizations/organization-accounts.ts';
import { findBillingProfile, findOrganization } from '../../organizations/organization-store.ts';
import { putBillingProfile } from '../../organizations/put-billing-profile.ts';
import { PAYMENT_METHODS, recordAdjustment, recordPayment } from '../../organizations/record-money.ts';
import { searchOrganizationsByText } from '../../organizations/search-organizations.ts';
import { setCreditLimit } from '../../organizations/set-credit-limit.ts';
import { changeOrganization } from '../../organizations/update-organization.ts';
import type { Services } from '../../services.ts';
import { amountOf } from '../amounts.ts';
import { requireOperator, requireOrganization } from '../auth.ts';
import { idempotencyKey } from '../idempotency.ts';
import { CurrencyCode, errors, IdempotencyHeaders, MoneyString, page, PageQuery, PositiveMoneyString, Timestamp, Uuid } from '../schemas.ts';
import { presentTransfer } from './ledger.ts';

const CreditLimitSchema = Type.Object(
  {
    amount: MoneyString,
    kind: Type.String({ enum: ['permanent', 'temporary'] }),
    expiresAt: Type.Union([Timestamp, Type.Null()], { description: 'When a temporary limit ends and the permanent one is back.' }),
    permanentAmount: MoneyString,
  },
  { $id: 'CreditLimit', description: 'The credit limit in force. Prepaid: how far the balance may go below zero. Postpaid: how much may be run up per bill period.' },
);

const OrganizationSchema = Type.Object(
  {
    id: Uuid,
    walletId: Type.String({ description: 'Short and readable over the phone, e.g. "512-884-037".' }),
    name: Type.String(),
    currency: CurrencyCode,
    paymentScheme: Type.String({ enum: [...PAYMENT_SCHEMES] }),
    invoiceSetup: Type.String({ enum: [...INVOICE_SETUPS], description: 'individual: an invoice per subscription, add-on, service or hardware charge plus a monthly tax invoice for usage; consolidated: one invoice a month; none: statements only.' }),
    status: Type.String({ enum: [...ORGANIZATION_STATUSES] }),
    accountCode: Type.Union([Type.String(), Type.Null()], { description: 'Maps CDRs to this organization.' }),
    rateDeckId: Type.Union([Type.String(), Type.Null()], { description: 'Its rate deck; null: the provider’s default deck.' }),
    chargingIntervalSeconds: Type.Union([Type.Integer(), Type.Null()], { description: 'How much call time a live session holds at a time; null: 60.' }),
    lowCreditThreshold: Type.Union([MoneyString, Type.Null()], { description: 'balance.low is raised once each time usable credit falls to or below it.' }),
    creditLimit: Type.Ref('CreditLimit'),
    accounts: Type.Record(Type.String(), Type.String(), { description: 'Ledger account ids by code (credit, funds, receivable, unbilled).' }),
    createdAt: Timestamp,
    updatedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'Organization' },
);

const AddressSchema = Type.Object(
  {
    lines: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 4 })),
    city: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
    postalCode: Type.Optional(Type.Union([Type.String({ maxLength: 20 }), Type.Null()])),
    region: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
    country: Type.Optional(Type.Union([Type.String({ minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2, e.g. "SG".' }), Type.Null()])),
  },
  { additionalProperties: false },
);

const BillingProfileFields = {
  companyName: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  address: Type.Optional(AddressSchema),
  timeZone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA, e.g. "Asia/Singapore"; bill periods are calendar months in it.' })),
  billingEmail: Type.Optional(Type.Union([Type.String({ maxLength: 254 }), Type.Null()])),
  taxId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  taxRate: Type.Optional(Type.String({ pattern: '^\\d+(\\.\\d{1,6})?$', description: 'Percent, e.g. "9" for 9% GST.' })),
};

const BillingProfileBody = Type.Object({ ...BillingProfileFields, currency: Type.Optional(CurrencyCode) }, { additionalProperties: false });
const BillingProfilePut = Type.Object({ ...BillingProfileFields, currency: CurrencyCode, timeZone: BillingProfileFields.timeZone }, { additionalProperties: false });

const BillingProfileSchema = Type.Object(
  {
    companyName: Type.Union([Type.String(), Type.Null()]),
    address: Type.Object({
      lines: Type.Array(Type.String()),
      city: Type.Union([Type.String(), Type.Null()]),
      postalCode: Type.Union([Type.String(), Type.Null()]),
      region: Type.Union([Type.String(), Type.Null()]),
      country: Type.Union([Type.String(), Type.Null()]),
    }),
    currency: CurrencyCode,
    timeZone: Type.String(),
    billingEmail: Type.Union([Type.String(), Type.Null()]),
    taxId: Type.Union([Type.String(), Type.Null()]),
    taxRate: Type.String({ description: 'Percent.' }),
    updatedAt: Timestamp,
  },
  { $id: 'BillingProfile' },
);

const CreditLimitBody = Type.Object(
  {
    amount: PositiveMoneyString,
    temporaryDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TEMPORARY_DAYS, description: 'A temporary limit for this many days, after which the permanent limit is back. Prepaid only.' })),
  },
  { additionalProperties: false },
);

const CreditsSchema = Type.Object({
  currency: CurrencyCode,
  usableCredits: MoneyString,
  expectingInvoice: MoneyString,
  amountDue: MoneyString,
  currentBalance: MoneyString,
  creditLimit: Type.Ref('CreditLimit'),
  reservedCredits: MoneyString,
  balance: Type.Union([MoneyString, Type.Null()], { description: 'Prepaid only: the call credit balance.' }),
});

const AuditEntrySchema = Type.Object({
  id: Type.String(),
  organizationId: Type.Union([Uuid, Type.Null()]),
  actor: Type.String(),
  action: Type.String(),
  before: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  after: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  at: Timestamp,
});

const Params = Type.Object({ id: Uuid });

function presentCreditLimit(limit: CreditLimit, currency: Currency) {
  return {
    amount: formatMicros(limit.amount, currency),
    kind: limit.kind,
    expiresAt: limit.expiresAt?.toISOString() ?? null,
    permanentAmount: formatMicros(limit.permanentAmount, currency),
  };
}

function presentOrganization(organization: Organization, spending: Account, accounts: Record<string, string>, now: Date) {
  return {
    id: organization.id,
    walletId: organization.walletId,
    name: organization.name,
    currency: organization.currency,
    paymentScheme: organization.paymentScheme,
    invoiceSetup: organization.invoiceSetup,
    status: organization.status,
    accountCode: organization.accountCode,
    rateDeckId: organization.rateDeckId,
    chargingIntervalSeconds: organization.chargingIntervalSeconds,
    lowCreditThreshold: organization.lowCreditThreshold === null ? null : formatMicros(organization.lowCreditThreshold, organization.currency),
    creditLimit: presentCreditLimit(creditLimitOf(spending, now), organization.currency),
    accounts,
    createdAt: organization.createdAt.toISOString(),
    updatedAt: organization.updatedAt?.toISOString() ?? null,
  };
}

function presentBillingProfile(profile: BillingProfile) {
  return {
    companyName: profile.companyName,
    address: { ...profile.address, lines: [...profile.address.lines] },
    currency: profile.currency,
    timeZone: profile.timeZone,
    billingEmail: profile.billingEmail,
    taxId: profile.taxId,
    taxRate: formatPercent(profile.taxRate),
    updatedAt: profile.updatedAt.toISOString(),
  };
}

/** 9_000_000n -> "9", 8_250_000n -> "8.25". */
function formatPercent(micros: bigint): string {
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${micros / 1_000_000n}${fraction ? `.${fraction}` : ''}`;
}

/** The charging settings of a create or change request, amounts parsed. */
function chargingSettings(body: { rateDeckId?: string | null; chargingIntervalSeconds?: number | null; lowCreditThreshold?: string | null }) {
  return {
    ...(body.rateDeckId !== undefined ? { rateDeckId: body.rateDeckId } : {}),
    ...(body.chargingIntervalSeconds !== undefined ? { chargingIntervalSeconds: body.chargingIntervalSeconds } : {}),
    ...(body.lowCreditThreshold !== undefined ? { lowCreditThreshold: body.lowCreditThreshold === null ? null : amountOf(body.lowCreditThreshold, 'lowCreditThreshold') } : {}),
  };
}

function profileInput(body: Static<typeof BillingProfileBody>): BillingProfileInput {
  return body as BillingProfileInput;
}

/** Shared schemas other routes refer to; the app registers them at its root. */
export const organizationSchemas = [CreditLimitSchema, OrganizationSchema, BillingProfileSchema];

export function organizationRoutes(services: Services): FastifyPluginAsyncTypebox {
  async function present(organization: Organization) {
    const accounts = await accountsOf(services.db, organization);
    const ids = Object.fromEntries(Object.entries(accounts).map(([code, account]) => [code, account.id]));
    return presentOrganization(organization, accounts[spendingAccountCode(organization.paymentScheme)], ids, services.clock.now());
  }

  async function visibleOrganization(request: FastifyRequest, id: string): Promise<Organization> {
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
          description:
            'Everything in one request; a bare {"name", "currency"} makes a prepaid organization with a consolidated monthly invoice. ' +
            'currency is required, here or as billingProfile.currency (400 otherwise). A postpaid organization needs a credit limit.',
          tags: ['organizations'],
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 200 }),
              currency: Type.Optional(CurrencyCode),
              paymentScheme: Type.Optional(Type.String({ enum: [...PAYMENT_SCHEMES] })),
              invoiceSetup: Type.Optional(Type.String({ enum: [...INVOICE_SETUPS] })),
              accountCode: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 80 }), Type.Null()])),
              billingProfile: Type.Optional(BillingProfileBody),
              creditLimit: Type.Optional(CreditLimitBody),
              rateDeckId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
              chargingIntervalSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 3600 }), Type.Null()])),
              lowCreditThreshold: Type.Optional(Type.Union([PositiveMoneyString, Type.Null()])),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Ref('Organization'), ...errors(403, 404, 409, 422) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const body = request.body;
        const organization = unwrap(
          await createOrganization(services, {
            name: body.name,
            ...(body.currency ? { currency: body.currency } : {}),
            ...(body.paymentScheme ? { paymentScheme: body.paymentScheme as Organization['paymentScheme'] } : {}),
            ...(body.invoiceSetup ? { invoiceSetup: body.invoiceSetup as Organization['invoiceSetup'] } : {}),
            ...(body.accountCode !== undefined ? { accountCode: body.accountCode } : {}),
            ...(body.billingProfile ? { billingProfile: profileInput(body.billingProfile) } : {}),
            ...(body.creditLimit
              ? { creditLimit: { amount: amountOf(body.creditLimit.amount, 'creditLimit.amount'), ...(body.creditLimit.temporaryDays ? { temporaryDays: body.creditLimit.temporaryDays } : {}) } }
              : {}),
            ...chargingSettings(body),
            actor: request.principal.keyId,
          }),
        );
        return reply.code(201).send(await present(organization));
      },
    );

    app.get(
      '/organizations',
      {
        schema: {
          summary: 'Search organizations',
          description: 'q matches an exact UUID, an exact wallet ID (spaces and dashes optional), or part of the name (case-insensitive). Without q, every organization, by name.',
          tags: ['organizations'],
          querystring: Type.Object({ ...PageQuery.properties, q: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
          response: { 200: page(Type.Ref('Organization')), ...errors() },
        },
      },
      async (request) => {
        const found = await searchOrganizationsByText(services.db, {
          text: request.query.q ?? '',
          ...(request.query.cursor ? { cursor: request.query.cursor } : {}),
          limit: request.query.limit ?? 50,
          // An organization key finds at most its own organization.
          ...(request.principal.role === 'organization' ? { onlyId: request.principal.organizationId } : {}),
        });
        if (!found.ok) throw RingbillError.from(found);
        const now = services.clock.now();
        return {
          data: found.value.rows.map((row) => presentOrganization(row.organization, row.spending, row.accounts, now)),
          nextCursor: found.value.nextCursor,
        };
      },
    );

    app.get(
      '/organizations/:id',
      { schema: { summary: 'Get an organization', tags: ['organizations'], params: Params, response: { 200: Type.Ref('Organization'), ...errors(404) } } },
      async (request) => present(await visibleOrganization(request, request.params.id)),
    );

    app.patch(
      '/organizations/:id',
      {
        schema: {
          summary: 'Change an organization',
          description: 'The payment scheme may change only while the organization has no ledger activity.',
          tags: ['organizations'],
          params: Params,
          body: Type.Object(
            {
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              status: Type.Optional(Type.String({ enum: [...ORGANIZATION_STATUSES] })),
              accountCode: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 80 }), Type.Null()])),
              invoiceSetup: Type.Optional(Type.String({ enum: [...INVOICE_SETUPS] })),
              paymentScheme: Type.Optional(Type.String({ enum: [...PAYMENT_SCHEMES] })),
              rateDeckId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
              chargingIntervalSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 3600 }), Type.Null()])),
              lowCreditThreshold: Type.Optional(Type.Union([PositiveMoneyString, Type.Null()])),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Ref('Organization'), ...errors(403, 404, 409, 422) },
        },
      },
      async (request) => {
        await visibleOrganization(request, request.params.id);
        requireOperator(request);
        services.organizations.forget(request.params.id);
        const changed = unwrap(
          await changeOrganization(services, {
            organizationId: request.params.id,
            changes: { ...(request.body as Omit<Parameters<typeof changeOrganization>[1]['changes'], 'lowCreditThreshold'>), ...chargingSettings(request.body) },
            actor: request.principal.keyId,
          }),
        );
        services.organizations.forget(changed.id);
        return present(changed);
      },
    );

    app.get(
      '/organizations/:id/billing-profile',
      { schema: { summary: 'Get the billing profile', tags: ['organizations'], params: Params, response: { 200: Type.Ref('BillingProfile'), ...errors(404) } } },
      async (request) => {
        const organization = await visibleOrganization(request, request.params.id);
        return presentBillingProfile((await findBillingProfile(services.db, organization.id))!);
      },
    );

    app.put(
      '/organizations/:id/billing-profile',
      {
        schema: {
          summary: 'Replace the billing profile',
          description: 'Fields left out go back to their defaults. The currency cannot change once the organization has ledger activity (422 currency_locked).',
          tags: ['organizations'],
          params: Params,
          body: BillingProfilePut,
          response: { 200: Type.Ref('BillingProfile'), ...errors(403, 404, 422) },
        },
      },
      async (request) => {
        await visibleOrganization(request, request.params.id);
        requireOperator(request);
        services.organizations.forget(request.params.id);
        const profile = unwrap(await putBillingProfile(services, { organizationId: request.params.id, profile: profileInput(request.body), actor: request.principal.keyId }));
        services.organizations.forget(request.params.id);
        return presentBillingProfile(profile);
      },
    );

    app.put(
      '/organizations/:id/credit-limit',
      {
        schema: {
          summary: 'Set the credit limit',
          description:
            'Permanent, or with temporaryDays a temporary limit that reverts to the permanent one at the exact instant its days are over. ' +
            'Setting a permanent limit ends a temporary one. Postpaid limits cannot be temporary.',
          tags: ['organizations'],
          params: Params,
          body: CreditLimitBody,
          response: { 200: Type.Ref('CreditLimit'), ...errors(403, 404, 422) },
        },
      },
      async (request) => {
        const organization = await visibleOrganization(request, request.params.id);
        requireOperator(request);
        const limit = unwrap(
          await setCreditLimit(services, {
            organizationId: organization.id,
            amount: amountOf(request.body.amount, 'amount'),
            ...(request.body.temporaryDays === undefined ? {} : { temporaryDays: request.body.temporaryDays }),
            actor: request.principal.keyId,
          }),
        );
        return presentCreditLimit(limit, organization.currency);
      },
    );

    app.get(
      '/organizations/:id/credits',
      {
        schema: {
          summary: 'The credits view',
          description:
            'Usable credits, expecting invoice, amount due, current balance, credit limit and reserved credits. Negative amounts are owed (DR), positive are in credit (CR).',
          tags: ['organizations'],
          params: Params,
          response: { 200: CreditsSchema, ...errors(404) },
        },
      },
      async (request) => {
        const organization = await visibleOrganization(request, request.params.id);
        const credits = await getCredits(services, organization);
        const money = (micros: bigint) => formatMicros(micros, organization.currency);
        return {
          currency: organization.currency,
          usableCredits: money(credits.usableCredits),
          expectingInvoice: money(credits.expectingInvoice),
          amountDue: money(credits.amountDue),
          currentBalance: money(credits.currentBalance),
          creditLimit: presentCreditLimit(credits.creditLimit, organization.currency),
          reservedCredits: money(credits.reservedCredits),
          balance: credits.balance === null ? null : money(credits.balance),
        };
      },
    );

    app.post(
      '/organizations/:id/adjustments',
      {
        schema: {
          summary: 'Adjust an organization’s balance',
          description: 'Positive amounts credit, negative amounts debit: the call credit when prepaid (a debit stays within the credit limit), the amount due when postpaid.',
          tags: ['organizations'],
          params: Params,
          headers: IdempotencyHeaders,
          body: Type.Object({ amount: MoneyString, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
          response: { 201: Type.Ref('Transfer'), ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        const organization = await visibleOrganization(request, request.params.id);
        requireOperator(request);
        const recorded = unwrap(
          await recordAdjustment(services, {
            organization,
            amount: amountOf(request.body.amount, 'amount'),
            reason: request.body.reason,
            idempotencyKey: idempotencyKey(request),
            actor: request.principal.keyId,
          }),
        );
        if (recorded.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send(presentTransfer(recorded.transfer));
      },
    );

    app.post(
      '/organizations/:id/payments',
      {
        schema: {
          summary: 'Record a payment received outside any gateway',
          description: 'Reduces the amount due; paying more leaves the amount due in credit, which later invoices use.',
          tags: ['organizations'],
          params: Params,
          headers: IdempotencyHeaders,
          body: Type.Object(
            {
              amount: PositiveMoneyString,
              method: Type.String({ enum: [...PAYMENT_METHODS] }),
              reference: Type.Optional(Type.String({ maxLength: 140 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Ref('Transfer'), ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        const organization = await visibleOrganization(request, request.params.id);
        requireOperator(request);
        const recorded = unwrap(
          await recordPayment(services, {
            organization,
            amount: amountOf(request.body.amount, 'amount'),
            method: request.body.method as (typeof PAYMENT_METHODS)[number],
            reference: request.body.reference ?? null,
            idempotencyKey: idempotencyKey(request),
            actor: request.principal.keyId,
          }),
        );
        if (recorded.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send(presentTransfer(recorded.transfer));
      },
    );

    app.post(
      '/organizations/:id/api-keys',
      {
        schema: {
          summary: 'Create an API key for an organization',
          description: 'The key sees only this organization. Its secret is in this response once and is stored only as a hash.',
          tags: ['api keys'],
          params: Params,
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
        const organization = await visibleOrganization(request, request.params.id);
        requireOperator(request);
        const key = await services.db.transaction(async (tx) => {
          const created = await createApiKey(tx, services.clock, { role: 'organization', organizationId: organization.id }, request.body.name ?? '');
          await writeAudit(tx, {
            organizationId: organization.id,
            actor: request.principal.keyId,
            action: 'api_key.created',
            before: null,
            after: { id: created.id, prefix: created.prefix, role: created.role, name: created.name },
            at: created.createdAt,
          });
          return created;
        });
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

    app.get(
      '/audit-log',
      {
        schema: {
          summary: 'The audit log, newest first',
          description: 'Every operator change (credit limits, adjustments, payments, billing profiles, keys) and every change the system made on its own (a temporary credit limit expiring), with actor, time, before and after.',
          tags: ['audit'],
          querystring: Type.Object({ ...PageQuery.properties, organizationId: Type.Optional(Uuid) }, { additionalProperties: false }),
          response: { 200: page(AuditEntrySchema), ...errors(403) },
        },
      },
      async (request) => {
        requireOperator(request);
        const limit = request.query.limit ?? 50;
        const entries = await listAudit(services.db, {
          ...(request.query.organizationId ? { organizationId: request.query.organizationId } : {}),
          ...(request.query.cursor ? { before: request.query.cursor } : {}),
          limit,
        });
        return {
          data: entries.map((entry) => ({ ...entry, at: entry.at.toISOString() })),
          nextCursor: entries.length === limit ? entries.at(-1)!.id : null,
        };
      },
    );
  };
}

