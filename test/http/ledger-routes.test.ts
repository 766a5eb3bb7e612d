import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

interface OrganizationJson {
  id: string;
  accounts: Record<string, string>;
}

describe(`ledger over HTTP on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let bankId: string;
  let revenueId: string;
  let keyCounter = 0;
  const key = () => `key-${++keyCounter}`;

  beforeAll(async () => {
    t = await startTestApp();
    const bank = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'bank', currency: 'SGD' } });
    const revenue = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'revenue', currency: 'SGD' } });
    bankId = bank.json().id;
    revenueId = revenue.json().id;
  });

  afterAll(async () => {
    await t?.close();
  });

  async function organization(name = 'Acme'): Promise<OrganizationJson> {
    const response = await t.call({ method: 'POST', url: '/v1/organizations', payload: { name, currency: 'SGD' } });
    expect(response.statusCode).toBe(201);
    return response.json();
  }

  function transfer(payload: Record<string, unknown>, idempotencyKey: string | null = key()) {
    return t.call({
      method: 'POST',
      url: '/v1/transfers',
      payload,
      headers: idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey },
    });
  }

  it('lets exactly 100 of 200 concurrent holds of 1.00 through an account allowed to spend 100.00', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    expect((await transfer({ debitAccountId: bankId, creditAccountId: wallet, amount: '100.00', code: 'topup' })).statusCode).toBe(201);
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => transfer({ debitAccountId: wallet, creditAccountId: revenueId, amount: '1.00', pending: true, code: 'call' })),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    const refused = responses.filter((r) => r.statusCode === 422);
    expect(refused).toHaveLength(100);
    expect(refused.every((r) => r.json().error.code === 'insufficient_credit')).toBe(true);
    const account = (await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json();
    expect(account).toMatchObject({ debitsPending: '100.00', available: '0.00', balance: '100.00' });
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('creates one transfer for one idempotency key sent 50 times at once, and marks the replays', async () => {
    const org = await organization();
    const payload = { debitAccountId: bankId, creditAccountId: org.accounts.credit!, amount: '5.00', code: 'topup' };
    const responses = await Promise.all(Array.from({ length: 50 }, () => transfer(payload, 'same-key')));
    expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([201]));
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(49);
    const account = (await t.call({ method: 'GET', url: `/v1/accounts/${org.accounts.credit}` })).json();
    expect(account.creditsPosted).toBe('5.00');
    const conflict = await transfer({ ...payload, amount: '6.00' }, 'same-key');
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.code).toBe('idempotency_conflict');
  });

  it('posts part of a hold, refuses to void it afterwards and to post a voided one', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    await transfer({ debitAccountId: bankId, creditAccountId: wallet, amount: '10.00' });
    const hold = (await transfer({ debitAccountId: wallet, creditAccountId: revenueId, amount: '4.00', pending: true })).json();
    const posted = await t.call({ method: 'POST', url: `/v1/transfers/${hold.id}/post`, payload: { amount: '1.5' }, headers: { 'idempotency-key': key() } });
    expect(posted.statusCode).toBe(200);
    expect(posted.json()).toMatchObject({ kind: 'post_pending', amount: '1.50', pendingId: hold.id });
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json()).toMatchObject({ available: '8.50', debitsPending: '0.00' });
    const voidPosted = await t.call({ method: 'POST', url: `/v1/transfers/${hold.id}/void`, headers: { 'idempotency-key': key() } });
    expect([voidPosted.statusCode, voidPosted.json().error.code]).toEqual([422, 'hold_already_posted']);

    const other = (await transfer({ debitAccountId: wallet, creditAccountId: revenueId, amount: '1.00', pending: true })).json();
    expect((await t.call({ method: 'POST', url: `/v1/transfers/${other.id}/void`, headers: { 'idempotency-key': key() } })).statusCode).toBe(200);
    const postVoided = await t.call({ method: 'POST', url: `/v1/transfers/${other.id}/post`, headers: { 'idempotency-key': key() } });
    expect([postVoided.statusCode, postVoided.json().error.code]).toEqual([422, 'hold_already_voided']);
  });

  it('expires a hold when the test clock passes its timeout, after which it cannot be posted', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    await transfer({ debitAccountId: bankId, creditAccountId: wallet, amount: '10.00' });
    const hold = (await transfer({ debitAccountId: wallet, creditAccountId: revenueId, amount: '4.00', pending: true, timeoutSeconds: 60 })).json();
    const before = (await t.call({ method: 'GET', url: '/v1/test-clock' })).json().now;
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 120 } });
    expect(advanced.statusCode).toBe(200);
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_holds', handled: 1 });
    expect(new Date(advanced.json().now).getTime() - new Date(before).getTime()).toBe(120_000);
    const expired = (await t.call({ method: 'GET', url: `/v1/transfers/${hold.id}` })).json();
    expect(expired).toMatchObject({ state: 'expired', resolvedAt: hold.timeoutAt });
    const late = await t.call({ method: 'POST', url: `/v1/transfers/${hold.id}/post`, headers: { 'idempotency-key': key() } });
    expect([late.statusCode, late.json().error.code]).toEqual([422, 'hold_expired']);
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json().available).toBe('10.00');
  });

  it('commits linked transfers all or nothing', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    const response = await t.call({
      method: 'POST',
      url: '/v1/linked-transfers',
      headers: { 'idempotency-key': key() },
      payload: {
        transfers: [
          { debitAccountId: bankId, creditAccountId: wallet, amount: '1.00' },
          { debitAccountId: wallet, creditAccountId: revenueId, amount: '1.01' },
        ],
      },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error).toMatchObject({ code: 'insufficient_credit', message: expect.stringContaining('transfers[1]') });
    const linked = (transfers: Record<string, unknown>[], idempotencyKey = key()) => t.call({ method: 'POST', url: '/v1/linked-transfers', headers: { 'idempotency-key': idempotencyKey }, payload: { transfers } });
    // An amount over the per-request cap names its transfer, as a refusal by the ledger does.
    const huge = await linked([
      { debitAccountId: bankId, creditAccountId: wallet, amount: '1.00' },
      { debitAccountId: bankId, creditAccountId: wallet, amount: '100000000001' },
    ]);
    expect([huge.statusCode, huge.json().error.code, huge.json().error.message]).toEqual([400, 'invalid_amount', 'transfers[1]: amount "100000000001" is more than 100000000000, the most one request may name']);
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json().creditsPosted).toBe('0.00');
    // A key used for one transfer, then for the same transfer as a linked command, is another request.
    const reused = key();
    const one = { debitAccountId: bankId, creditAccountId: wallet, amount: '1.00' };
    expect((await transfer(one, reused)).statusCode).toBe(201);
    const again = await linked([one], reused);
    expect([again.statusCode, again.json().error?.code]).toEqual([409, 'idempotency_conflict']);
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json().creditsPosted).toBe('1.00');
  });

  it('refuses bad input with a code and moves nothing', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    const cases: [Record<string, unknown>, string | null, number, string, RegExp?][] = [
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: 1 }, key(), 400, 'invalid_input', /not a JSON number/],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1e3' }, key(), 400, 'invalid_input', /decimal string/],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.0000001' }, key(), 400, 'invalid_input'],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '-1.00' }, key(), 400, 'invalid_input', /amount must not be negative/],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '0' }, key(), 400, 'invalid_amount'],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00', colour: 'red' }, key(), 400, 'invalid_input', /unknown field "colour"/],
      [{ debitAccountId: bankId, creditAccountId: wallet }, key(), 400, 'invalid_input', /amount/],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00' }, null, 400, 'idempotency_key_required'],
      [{ debitAccountId: bankId, creditAccountId: 'acc_nope', amount: '1.00' }, key(), 404, 'account_not_found'],
      [{ debitAccountId: wallet, creditAccountId: wallet, amount: '1.00' }, key(), 422, 'same_account'],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00', timeoutSeconds: 5 }, key(), 400, 'invalid_input'],
      // Metadata is flat and exact: no nesting, no number JSON cannot keep.
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00', metadata: { deep: { deeper: {} } } }, key(), 400, 'invalid_input'],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00', metadata: { big: 2 ** 60 } }, key(), 400, 'invalid_input'],
      [{ debitAccountId: bankId, creditAccountId: wallet, amount: '1.00', metadata: { text: 'x'.repeat(501) } }, key(), 400, 'invalid_input'],
    ];
    for (const [payload, idempotencyKey, status, code, message] of cases) {
      const response = await transfer(payload, idempotencyKey);
      expect([response.statusCode, response.json().error.code], JSON.stringify(payload)).toEqual([status, code]);
      if (message) expect(response.json().error.message).toMatch(message);
    }
    const account = (await t.call({ method: 'GET', url: `/v1/accounts/${wallet}` })).json();
    expect(account).toMatchObject({ creditsPosted: '0.00', debitsPosted: '0.00', debitsPending: '0.00' });
    // An overdraft only limits an account whose debits are limited; elsewhere it would be shown and never applied.
    const unlimited = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'suspense', currency: 'SGD', overdraftLimit: '100' } });
    expect([unlimited.statusCode, unlimited.json().error.code]).toEqual([400, 'invalid_input']);
    const limited = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'float', currency: 'SGD', overdraftLimit: '100', debitsMustNotExceedCredits: true } });
    expect([limited.statusCode, limited.json().available]).toEqual([201, '100.00']);
    // What may be spent from an account with no limit is no figure at all.
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${bankId}` })).json().available).toBeNull();
  });

  it('lists an organization’s ledger page by page, newest first', async () => {
    const org = await organization();
    const wallet = org.accounts.credit!;
    for (const amount of ['1.00', '2.00', '3.00']) await transfer({ debitAccountId: bankId, creditAccountId: wallet, amount });
    const first = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/ledger?limit=2` })).json();
    expect(first.data.map((x: { amount: string }) => x.amount)).toEqual(['3.00', '2.00']);
    const second = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/ledger?limit=2&cursor=${first.nextCursor}` })).json();
    expect(second.data.map((x: { amount: string }) => x.amount)).toEqual(['1.00']);
    expect(second.nextCursor).toBeNull();
  });

  it('lists the transfers of every account of an organization, however many it has', async () => {
    const org = await organization();
    // 200 more accounts opened for it, the last of them sorting after all its own.
    await t.database.db.query(
      `INSERT INTO ledger_accounts (id, organization_id, code, currency, created_at)
       SELECT 'acc_zz_' || lpad(i::text, 4, '0'), $1, 'extra:' || i, 'SGD', now() FROM generate_series(1, 200) AS i`,
      [org.id],
    );
    await transfer({ debitAccountId: bankId, creditAccountId: 'acc_zz_0200', amount: '7.00' });
    const listed = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/ledger` })).json();
    expect(listed.data.map((x: { amount: string; creditAccountId: string }) => [x.amount, x.creditAccountId])).toEqual([['7.00', 'acc_zz_0200']]);
  });

  it('shows an organization key only its own organization and refuses it the operator’s ledger commands', async () => {
    const mine = await organization('Mine');
    const theirs = await organization('Theirs');
    const created = await t.call({ method: 'POST', url: `/v1/organizations/${mine.id}/api-keys`, payload: {} });
    expect(created.statusCode).toBe(201);
    const orgKey = created.json().key as string;
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${mine.id}`, key: orgKey })).statusCode).toBe(200);
    for (const url of [`/v1/organizations/${theirs.id}`, `/v1/organizations/${theirs.id}/ledger`, `/v1/accounts/${theirs.accounts.credit}`]) {
      const response = await t.call({ method: 'GET', url, key: orgKey });
      expect(response.statusCode, url).toBe(404);
    }
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${mine.accounts.credit}`, key: orgKey })).statusCode).toBe(200);
    const forbidden = await t.call({
      method: 'POST',
      url: '/v1/transfers',
      key: orgKey,
      headers: { 'idempotency-key': key() },
      payload: { debitAccountId: bankId, creditAccountId: mine.accounts.credit, amount: '1.00' },
    });
    expect([forbidden.statusCode, forbidden.json().error.code]).toEqual([403, 'forbidden']);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${mine.id}`, key: null })).statusCode).toBe(401);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${mine.id}`, key: 'rb_op_wrong' })).json().error.code).toBe('unauthenticated');
    // The key is stored only as a hash.
    const stored = await t.database.db.query<{ secret_hash: string }>('SELECT secret_hash FROM api_keys WHERE id = $1', [created.json().id]);
    expect(stored.rows[0]!.secret_hash).not.toContain(orgKey);
    expect(stored.rows[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
