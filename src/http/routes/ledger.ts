import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { RingbillError } from '../../errors.ts';
import { availableBalance } from '../../ledger/apply-command.ts';
import { listAccountsOfOrganizations } from '../../ledger/ledger-store.ts';
import { isNewTransfer, type Account, type Transfer, type TransferRequest } from '../../ledger/types.ts';
import { formatMicros, parseCurrency } from '../../money/index.ts';
import { findSession } from '../../charging/session-store.ts';
import { isOrganizationAccount, ORGANIZATION_ACCOUNTS } from '../../organizations/organization.ts';
import { findOrganization } from '../../organizations/organization-store.ts';
import type { Services } from '../../services.ts';
import { amountOf } from '../amounts.ts';
import { requireOperator, requireOrganization } from '../auth.ts';
import { idempotencyKey } from '../idempotency.ts';
import { CurrencyCode, errors, IdempotencyHeaders, MoneyString, page, PageQuery, PositiveMoneyString, Timestamp, Uuid } from '../schemas.ts';

const AccountSchema = Type.Object(
  {
    id: Type.String(),
    organizationId: Type.Union([Uuid, Type.Null()]),
    code: Type.String(),
    currency: CurrencyCode,
    debitsPosted: MoneyString,
    creditsPosted: MoneyString,
    debitsPending: MoneyString,
    creditsPending: MoneyString,
    balance: Type.String({ description: 'Posted credits minus posted debits.' }),
    available: Type.Union([Type.String(), Type.Null()], {
      description: 'Posted credits plus the overdraft limit minus posted and pending debits: what may still be spent. Null for an account whose debits are not limited (debitsMustNotExceedCredits false).',
    }),
    overdraftLimit: MoneyString,
    debitsMustNotExceedCredits: Type.Boolean(),
    creditsMustNotExceedDebits: Type.Boolean(),
    createdAt: Timestamp,
  },
  { $id: 'Account' },
);

const TransferSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ enum: ['posted', 'pending', 'post_pending', 'void_pending', 'expire_pending'] }),
    state: Type.String({ enum: ['posted', 'pending', 'voided', 'expired'] }),
    debitAccountId: Type.String(),
    creditAccountId: Type.String(),
    amount: MoneyString,
    currency: CurrencyCode,
    pendingId: Type.Union([Type.String(), Type.Null()]),
    timeoutAt: Type.Union([Timestamp, Type.Null()]),
    resolvedAt: Type.Union([Timestamp, Type.Null()]),
    code: Type.String(),
    commandId: Type.String(),
    metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    createdAt: Timestamp,
  },
  { $id: 'Transfer' },
);

/**
 * Flat, like Stripe's: a value is a text, a whole number JSON keeps exactly, a boolean or null.
 * Nested values once overflowed the stack at 3,000 levels, and 1e400 was stored as null.
 */
const Metadata = Type.Record(
  Type.String({ maxLength: 40 }),
  Type.Union([Type.String({ maxLength: 500 }), Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }), Type.Boolean(), Type.Null()]),
  { maxProperties: 20, description: 'Up to 20 keys of your own: texts of up to 500 characters, whole numbers, booleans or null.' },
);

const NewTransferBody = Type.Object(
  {
    debitAccountId: Type.String({ minLength: 1, maxLength: 64 }),
    creditAccountId: Type.String({ minLength: 1, maxLength: 64 }),
    amount: PositiveMoneyString,
    pending: Type.Optional(Type.Boolean({ default: false, description: 'true places a hold: pending until posted, voided or timed out.' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31 * 86_400, description: 'Holds only: released by itself after this long.' })),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_:.-]+$', default: 'transfer', description: 'What the money is for.' })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

const PostBody = Type.Object(
  {
    amount: Type.Optional(Type.Union([PositiveMoneyString], { description: 'Defaults to the whole hold; less posts part and returns the rest.' })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

const VoidBody = Type.Object({ metadata: Type.Optional(Metadata) }, { additionalProperties: false });

const CommandResponse = Type.Object({ commandId: Type.String(), transfers: Type.Array(Type.Ref('Transfer')) });

const money = formatMicros;

export function presentAccount(account: Account, now: Date) {
  return {
    id: account.id,
    organizationId: account.organizationId,
    code: account.code,
    currency: account.currency,
    debitsPosted: money(account.debitsPosted, account.currency),
    creditsPosted: money(account.creditsPosted, account.currency),
    debitsPending: money(account.debitsPending, account.currency),
    creditsPending: money(account.creditsPending, account.currency),
    balance: money(account.creditsPosted - account.debitsPosted, account.currency),
    available: account.debitsMustNotExceedCredits ? money(availableBalance(account, now), account.currency) : null,
    overdraftLimit: money(account.overdraftLimit, account.currency),
    debitsMustNotExceedCredits: account.debitsMustNotExceedCredits,
    creditsMustNotExceedDebits: account.creditsMustNotExceedDebits,
    createdAt: account.createdAt.toISOString(),
  };
}

export function presentTransfer(transfer: Transfer) {
  return {
    id: transfer.id,
    kind: transfer.kind,
    state: transfer.state,
    debitAccountId: transfer.debitAccountId,
    creditAccountId: transfer.creditAccountId,
    amount: money(transfer.amount, transfer.currency),
    currency: transfer.currency,
    pendingId: transfer.pendingId,
    timeoutAt: transfer.timeoutAt?.toISOString() ?? null,
    resolvedAt: transfer.resolvedAt?.toISOString() ?? null,
    code: transfer.code,
    commandId: transfer.commandId,
    metadata: transfer.metadata,
    createdAt: transfer.createdAt.toISOString(),
  };
}

function toRequest(body: Static<typeof NewTransferBody>, field = 'amount'): TransferRequest {
  return {
    kind: body.pending ? 'pending' : 'posted',
    debitAccountId: body.debitAccountId,
    creditAccountId: body.creditAccountId,
    amount: amountOf(body.amount, field),
    code: body.code ?? 'transfer',
    ...(body.timeoutSeconds === undefined ? {} : { timeoutSeconds: body.timeoutSeconds }),
    ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
  };
}


/** Shared schemas other routes refer to; the app registers them at its root. */
export const ledgerSchemas = [AccountSchema, TransferSchema];

export function ledgerRoutes(services: Services): FastifyPluginAsyncTypebox {
  async function visibleAccount(request: FastifyRequest, id: string): Promise<Account> {
    const account = await services.ledger.getAccount(id);
    if (!account || (request.principal.role !== 'operator' && account.organizationId !== request.principal.organizationId)) {
      throw new RingbillError('account_not_found');
    }
    return account;
  }

  return async (app) => {
    app.post(
      '/accounts',
      {
        schema: {
          summary: 'Create a ledger account',
          description: 'For the provider’s own books; organizations get their accounts when they are created.',
          tags: ['ledger'],
          body: Type.Object(
            {
              code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_:.-]+$' }),
              currency: CurrencyCode,
              organizationId: Type.Optional(Uuid),
              debitsMustNotExceedCredits: Type.Optional(Type.Boolean()),
              creditsMustNotExceedDebits: Type.Optional(Type.Boolean()),
              overdraftLimit: Type.Optional(PositiveMoneyString),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Ref('Account'), ...errors(403, 404, 409) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const body = request.body;
        const currency = parseCurrency(body.currency);
        if (!currency) throw new RingbillError('invalid_input', `body/currency "${body.currency}" is not an ISO 4217 code`);
        if (body.organizationId && !(await findOrganization(services.db, body.organizationId))) throw new RingbillError('organization_not_found');
        // Those an organization is made with, in its currency, which a currency change moves.
        if (body.organizationId && isOrganizationAccount(body.code)) {
          throw new RingbillError('invalid_input', `body/code "${body.code}" is one of an organization's own accounts (${ORGANIZATION_ACCOUNTS.join(', ')}), made with it; choose another code`);
        }
        const created = await services.ledger.createAccount({
          organizationId: body.organizationId ?? null,
          code: body.code,
          currency,
          debitsMustNotExceedCredits: body.debitsMustNotExceedCredits ?? false,
          creditsMustNotExceedDebits: body.creditsMustNotExceedDebits ?? false,
          overdraftLimit: body.overdraftLimit === undefined ? 0n : amountOf(body.overdraftLimit, 'overdraftLimit'),
        });
        if (!created.ok) throw RingbillError.from(created);
        return reply.code(201).send(presentAccount(created.value, services.clock.now()));
      },
    );

    app.get(
      '/accounts',
      {
        schema: {
          summary: 'List ledger accounts',
          tags: ['ledger'],
          querystring: Type.Object(
            {
              ...PageQuery.properties,
              organizationId: Type.Optional(Uuid),
              provider: Type.Optional(Type.Boolean({ description: 'true: only the provider’s own accounts.' })),
              code: Type.Optional(Type.String({ maxLength: 64 })),
              currency: Type.Optional(CurrencyCode),
            },
            { additionalProperties: false },
          ),
          response: { 200: page(Type.Ref('Account')), ...errors(403) },
        },
      },
      async (request) => {
        const query = request.query;
        let organizationId: string | null | undefined = query.provider ? null : query.organizationId;
        if (request.principal.role !== 'operator') {
          if (query.provider) throw new RingbillError('forbidden', 'The provider’s accounts are for operator keys.');
          // Another organization's accounts answer as a missing organization's would, not with one's own.
          if (query.organizationId !== undefined) requireOrganization(request, query.organizationId);
          organizationId = request.principal.organizationId;
        }
        const currency = query.currency === undefined ? undefined : parseCurrency(query.currency);
        if (query.currency !== undefined && !currency) throw new RingbillError('invalid_input', `querystring/currency "${query.currency}" is not an ISO 4217 code`);
        const limit = query.limit ?? 50;
        const accounts = await services.ledger.listAccounts({
          ...(organizationId === undefined ? {} : { organizationId }),
          ...(query.code ? { code: query.code } : {}),
          ...(currency ? { currency } : {}),
          ...(query.cursor ? { after: query.cursor } : {}),
          limit,
        });
        return { data: accounts.map((account) => presentAccount(account, services.clock.now())), nextCursor: accounts.length === limit ? accounts.at(-1)!.id : null };
      },
    );

    app.get(
      '/accounts/:id',
      {
        schema: {
          summary: 'Get a ledger account',
          tags: ['ledger'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Type.Ref('Account'), ...errors(404) },
        },
      },
      async (request) => presentAccount(await visibleAccount(request, request.params.id), services.clock.now()),
    );

    app.post(
      '/transfers',
      {
        schema: {
          summary: 'Create a transfer or a hold',
          description:
            'Posted at once, or, with `pending: true`, a hold that counts against the debit account until it is posted ' +
            '(in full or in part), voided, or times out. The balance rules are checked under a lock in the same ' +
            'transaction, so concurrent requests can never spend the same credit.',
          tags: ['ledger'],
          headers: IdempotencyHeaders,
          body: NewTransferBody,
          response: { 201: Type.Ref('Transfer'), ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const result = await runCommand(request, [toRequest(request.body)], 'transfer');
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send(presentTransfer(result.transfers[0]!));
      },
    );

    app.post(
      '/linked-transfers',
      {
        schema: {
          summary: 'Create several transfers, all or nothing',
          description: 'The transfers commit together or not at all; each sees the ones before it.',
          tags: ['ledger'],
          headers: IdempotencyHeaders,
          body: Type.Object({ transfers: Type.Array(NewTransferBody, { minItems: 1, maxItems: 64 }) }, { additionalProperties: false }),
          response: { 201: CommandResponse, ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const { transfers } = request.body;
        const result = await runCommand(
          request,
          transfers.map((transfer, index) => toRequest(transfer, transfers.length > 1 ? `transfers[${index}]: amount` : 'amount')),
          'linked_transfers',
        );
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send({ commandId: result.commandId, transfers: result.transfers.map(presentTransfer) });
      },
    );

    app.get(
      '/transfers/:id',
      {
        schema: {
          summary: 'Get a transfer',
          tags: ['ledger'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Type.Ref('Transfer'), ...errors(404) },
        },
      },
      async (request) => {
        const transfer = await services.ledger.getTransfer(request.params.id);
        if (!transfer) throw new RingbillError('transfer_not_found');
        if (request.principal.role !== 'operator') {
          const [debit, credit] = await Promise.all([services.ledger.getAccount(transfer.debitAccountId), services.ledger.getAccount(transfer.creditAccountId)]);
          const own = request.principal.organizationId;
          if (debit?.organizationId !== own && credit?.organizationId !== own) throw new RingbillError('transfer_not_found');
        }
        return presentTransfer(transfer);
      },
    );

    app.post(
      '/transfers/:id/post',
      {
        schema: {
          summary: 'Post a hold, in full or in part',
          description: 'Posting less than the hold returns the rest to the debit account.',
          tags: ['ledger'],
          headers: IdempotencyHeaders,
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          body: PostBody,
          response: { 200: Type.Ref('Transfer'), ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const body = request.body;
        const result = await runCommand(request, [
          {
            kind: 'post_pending',
            pendingId: request.params.id,
            ...(body.amount === undefined ? {} : { amount: amountOf(body.amount, 'amount') }),
            ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
          },
        ]);
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return presentTransfer(result.transfers[0]!);
      },
    );

    app.post(
      '/transfers/:id/void',
      {
        schema: {
          summary: 'Void a hold',
          description: 'Returns everything the hold held.',
          tags: ['ledger'],
          headers: IdempotencyHeaders,
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          body: VoidBody,
          response: { 200: Type.Ref('Transfer'), ...errors(403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        requireOperator(request);
        const metadata = request.body.metadata;
        const result = await runCommand(request, [{ kind: 'void_pending', pendingId: request.params.id, ...(metadata === undefined ? {} : { metadata }) }]);
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return presentTransfer(result.transfers[0]!);
      },
    );

    app.get(
      '/organizations/:id/ledger',
      {
        schema: {
          summary: 'An organization’s ledger, newest first',
          tags: ['ledger'],
          params: Type.Object({ id: Uuid }),
          querystring: Type.Object({ ...PageQuery.properties }, { additionalProperties: false }),
          response: { 200: page(Type.Ref('Transfer')), ...errors(404) },
        },
      },
      async (request) => {
        requireOrganization(request, request.params.id);
        if (!(await findOrganization(services.db, request.params.id))) throw new RingbillError('organization_not_found');
        // Every account of the organization, not a page of them: the operator may open many.
        const accounts = await listAccountsOfOrganizations(services.db, [request.params.id]);
        const limit = request.query.limit ?? 50;
        const transfers = await services.ledger.listTransfers(
          accounts.map((account) => account.id),
          { limit, ...(request.query.cursor ? { before: request.query.cursor } : {}) },
        );
        return { data: transfers.map(presentTransfer), nextCursor: transfers.length === limit ? transfers.at(-1)!.id : null };
      },
    );
  };

  async function runCommand(request: FastifyRequest, transfers: TransferRequest[], operation?: string) {
    for (const transfer of transfers) if (!isNewTransfer(transfer)) await refuseSessionHold(transfer.pendingId);
    const result = await services.ledger.execute({ transfers, idempotencyKey: idempotencyKey(request), ...(operation ? { operation } : {}) });
    if (!result.ok) {
      const where = 'index' in result && transfers.length > 1 ? `transfers[${result.index}]: ` : '';
      throw new RingbillError(result.code, `${where}${result.message}`);
    }
    return result.value;
  }

  /**
   * A live call's hold is its session's to post and release: posted or voided from here, the
   * session could neither be updated, ended nor expired, and its usage would never be recorded.
   */
  async function refuseSessionHold(holdId: string): Promise<void> {
    const sessionId = (await services.ledger.getTransfer(holdId))?.metadata?.sessionId;
    // The session's own record says whether the hold is its: metadata anyone may write does not.
    if (typeof sessionId === 'string' && (await findSession(services.db, sessionId))?.holdId === holdId) {
      throw new RingbillError('hold_in_session', `hold ${holdId} is live call session ${sessionId}'s: end the call with POST /v1/charging/sessions/${sessionId}/terminate`);
    }
  }
}
