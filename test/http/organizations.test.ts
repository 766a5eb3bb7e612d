import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAudit } from '../../src/audit/audit-log.ts';
import { unwrap } from '../../src/errors.ts';
import { parseCurrency } from '../../src/money/index.ts';
import { recordCharge } from '../../src/billing/record-charge.ts';
import { findOrganization } from '../../src/organizations/organization-store.ts';
import { recordAdjustment } from '../../src/organizations/record-money.ts';
import type { Queryable } from '../../src/store/database.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

interface OrganizationJson {
  id: string;
  walletId: string;
  name: string;
  paymentScheme: string;
  accounts: Record<string, string>;
  creditLimit: { amount: string; kind: string; expiresAt: string | null; permanentAmount: string };
}

describe(`organizations on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let keys = 0;
  const key = () => ({ 'idempotency-key': `org-test-${++keys}` });

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-11-02T03:00:00Z') });
  });

  afterAll(async () => {
    await t?.close();
  });

  async function create(payload: Record<string, unknown>): Promise<OrganizationJson> {
    const response = await t.call({ method: 'POST', url: '/v1/organizations', payload });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  async function credits(id: string, apiKey?: string) {
    const response = await t.call({ method: 'GET', url: `/v1/organizations/${id}/credits`, ...(apiKey ? { key: apiKey } : {}) });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  async function fund(org: OrganizationJson, amount: string) {
    const response = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: key(), payload: { amount, reason: 'opening balance' } });
    expect(response.statusCode, response.body).toBe(201);
  }

  async function hold(org: OrganizationJson, account: string, amount: string) {
    const revenue = await t.services.ledger.providerAccount('revenue:usage', (await findOrganization(t.database.db, org.id))!.currency);
    return t.call({ method: 'POST', url: '/v1/transfers', headers: key(), payload: { debitAccountId: org.accounts[account], creditAccountId: revenue.id, amount, pending: true } });
  }

  /**
   * Starts an adjustment's ledger batch and holds it after its write (its accounts locked, not yet
   * committed, `then` still to run); `meanwhile` starts a request, lets the batch finish 300 ms
   * later, and answers the request's response once the batch has committed.
   */
  async function heldAdjustment(org: OrganizationJson, amount: bigint, then?: (tx: Queryable) => Promise<unknown>) {
    const adjustments = await t.services.ledger.providerAccount('adjustments', (await findOrganization(t.database.db, org.id))!.currency);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const holding = new Promise<void>((resolve) => (written = resolve));
    const batch = t.services.ledger.execute({
      transfers: [{ kind: 'posted', debitAccountId: adjustments.id, creditAccountId: org.accounts.credit!, amount, code: 'adjustment' }],
      afterWrite: async (tx) => {
        written();
        await gate;
        await then?.(tx);
      },
    });
    await holding;
    return {
      async meanwhile<T>(request: () => Promise<T>): Promise<T> {
        const pending = request();
        await new Promise((resolve) => setTimeout(resolve, 300));
        release();
        expect((await batch).ok).toBe(true);
        return pending;
      },
    };
  }

  async function charge(org: OrganizationJson, kind: 'call' | 'subscription', amount: bigint) {
    const organization = (await findOrganization(t.database.db, org.id))!;
    return recordCharge(t.services, { organization, kind, amount, description: kind, occurredAt: t.clock.now(), idempotencyKey: { scope: 'test', key: `charge-${++keys}` } });
  }

  it('creates an organization with everything in one request', async () => {
    const org = await create({
      name: 'Acme Pte Ltd',
      paymentScheme: 'prepaid',
      invoiceSetup: 'individual',
      accountCode: 'ACME01',
      billingProfile: {
        companyName: 'Acme Pte Ltd',
        address: { lines: ['1 Raffles Place'], city: 'Singapore', postalCode: '048616', country: 'SG' },
        currency: 'SGD',
        timeZone: 'Asia/Singapore',
        billingEmail: 'billing@acme.example',
        taxId: 'M2-1234567-8',
        taxRate: '9',
      },
      creditLimit: { amount: '50.00' },
    });
    expect(org).toMatchObject({ name: 'Acme Pte Ltd', paymentScheme: 'prepaid', invoiceSetup: 'individual', accountCode: 'ACME01', currency: 'SGD', status: 'active' });
    expect(org.walletId).toMatch(/^\d{3}-\d{3}-\d{3}$/);
    expect(org.creditLimit).toEqual({ amount: '50.00', kind: 'permanent', expiresAt: null, permanentAmount: '50.00' });
    const profile = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/billing-profile` })).json();
    expect(profile).toMatchObject({ timeZone: 'Asia/Singapore', taxRate: '9', currency: 'SGD', address: { country: 'SG', lines: ['1 Raffles Place'] } });
  });

  it('keeps a bare name and currency working: prepaid, consolidated', async () => {
    const org = await create({ name: 'Bare', currency: 'USD' });
    expect(org).toMatchObject({ paymentScheme: 'prepaid', invoiceSetup: 'consolidated', creditLimit: { amount: '0.00' } });
  });

  it('requires a credit limit for postpaid and refuses a temporary one', async () => {
    const missing = await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'P', currency: 'SGD', paymentScheme: 'postpaid' } });
    expect([missing.statusCode, missing.json().error.code]).toEqual([422, 'credit_limit_required']);
    const temporary = await t.call({
      method: 'POST',
      url: '/v1/organizations',
      payload: { name: 'P', currency: 'SGD', paymentScheme: 'postpaid', creditLimit: { amount: '100', temporaryDays: 3 } },
    });
    expect([temporary.statusCode, temporary.json().error.code]).toEqual([422, 'temporary_credit_limit_not_allowed']);
    const org = await create({ name: 'Postpaid Co', currency: 'SGD', paymentScheme: 'postpaid', creditLimit: { amount: '500' } });
    const later = await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '900', temporaryDays: 2 } });
    expect([later.statusCode, later.json().error.code]).toEqual([422, 'temporary_credit_limit_not_allowed']);
  });

  it('finds organizations by part of the name, by UUID and by wallet ID, with their credit limits', async () => {
    const org = await create({ name: 'Zebulon Telecom Ltd', currency: 'SGD', creditLimit: { amount: '75.5' } });
    await create({ name: 'Zebra Crossing Ltd', currency: 'SGD' });
    const search = async (q: string) => (await t.call({ method: 'GET', url: `/v1/organizations?q=${encodeURIComponent(q)}` })).json();
    const byName = await search('ebulon tele');
    expect(byName.data.map((row: OrganizationJson) => row.id)).toEqual([org.id]);
    expect(byName.data[0].creditLimit).toEqual({ amount: '75.50', kind: 'permanent', expiresAt: null, permanentAmount: '75.50' });
    expect((await search('ZEB')).data.map((row: OrganizationJson) => row.name)).toEqual(['Zebra Crossing Ltd', 'Zebulon Telecom Ltd']);
    expect((await search(org.id.toUpperCase())).data.map((row: OrganizationJson) => row.id)).toEqual([org.id]);
    expect((await search(org.walletId.replaceAll('-', ' '))).data.map((row: OrganizationJson) => row.id)).toEqual([org.id]);
    expect((await search('100%_')).data).toEqual([]);
  });

  it('shows an organization’s own accounts alike in a search and on its own, beside those the operator opened for it', async () => {
    const org = await create({ name: 'Quokka Accounts Ltd', currency: 'SGD' });
    const opened = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'deposit', currency: 'SGD', organizationId: org.id } });
    expect(opened.statusCode, opened.body).toBe(201);
    const alone = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}` })).json();
    const found = (await t.call({ method: 'GET', url: '/v1/organizations?q=Quokka' })).json().data[0];
    expect(Object.keys(alone.accounts).sort()).toEqual(['credit', 'funds', 'receivable', 'unbilled']);
    expect(found.accounts).toEqual(alone.accounts);
  });

  it('pages through search results', async () => {
    for (const name of ['Paging A', 'Paging B', 'Paging C']) await create({ name, currency: 'SGD' });
    const first = (await t.call({ method: 'GET', url: '/v1/organizations?q=paging&limit=2' })).json();
    expect(first.data.map((row: OrganizationJson) => row.name)).toEqual(['Paging A', 'Paging B']);
    const second = (await t.call({ method: 'GET', url: `/v1/organizations?q=paging&limit=2&cursor=${first.nextCursor}` })).json();
    expect(second.data.map((row: OrganizationJson) => row.name)).toEqual(['Paging C']);
    const withNul = Buffer.from(JSON.stringify(['Paging\u0000', '00000000-0000-4000-8000-000000000000'])).toString('base64url');
    for (const cursor of ['garbage', withNul]) {
      const bad = await t.call({ method: 'GET', url: `/v1/organizations?cursor=${cursor}` });
      expect([bad.statusCode, bad.json().error.code, bad.json().error.message]).toEqual([400, 'invalid_input', 'querystring/cursor is not a cursor this search gave']);
    }
  });

  it('prepaid usable credits follow a temporary limit, and it expires by itself at its instant, in the audit log', async () => {
    const org = await create({ name: 'Temporary Ltd', currency: 'SGD', creditLimit: { amount: '20' } });
    await fund(org, '10.00');
    expect(await credits(org.id)).toMatchObject({ usableCredits: '30.00', balance: '10.00', creditLimit: { amount: '20.00', kind: 'permanent' } });
    const set = await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '500', temporaryDays: 7 } });
    expect(set.statusCode, set.body).toBe(200);
    const expiresAt = set.json().expiresAt as string;
    expect(new Date(expiresAt).getTime() - t.clock.now().getTime()).toBe(7 * 86_400_000);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '510.00', creditLimit: { amount: '500.00', kind: 'temporary', expiresAt, permanentAmount: '20.00' } });

    // Spend into the temporary limit: the debt stays after it expires, and nothing more can be spent.
    const spent = await hold(org, 'credit', '300.00');
    expect(spent.statusCode).toBe(201);
    await t.call({ method: 'POST', url: `/v1/transfers/${spent.json().id}/post`, headers: key() });
    expect((await credits(org.id)).usableCredits).toBe('210.00');

    await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { to: new Date(new Date(expiresAt).getTime() - 1000).toISOString() } });
    expect((await credits(org.id)).creditLimit.kind).toBe('temporary');
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 3600 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_credit_limits', handled: 1 });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '-270.00', balance: '-290.00', creditLimit: { amount: '20.00', kind: 'permanent', expiresAt: null } });
    const refused = await hold(org, 'credit', '0.01');
    expect([refused.statusCode, refused.json().error.code]).toEqual([422, 'insufficient_credit']);

    const audit = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}` })).json().data;
    const expiry = audit.find((entry: { action: string }) => entry.action === 'credit_limit.expired');
    expect(expiry).toMatchObject({ actor: 'system', at: expiresAt, before: { amount: '500.00', kind: 'temporary' }, after: { amount: '20.00', kind: 'permanent' } });
    expect(audit.map((entry: { action: string }) => entry.action)).toEqual(['credit_limit.expired', 'credit_limit.set', 'adjustment.created', 'organization.created', 'credit_limit.set']);
  });

  it('refuses spending beyond an expired temporary limit even before the job has run', async () => {
    const org = await create({ name: 'Instant Ltd', currency: 'SGD', creditLimit: { amount: '100', temporaryDays: 1 } });
    expect((await hold(org, 'credit', '100.00')).statusCode).toBe(201);
    t.clock.advanceSeconds(86_400);
    const refused = await hold(org, 'credit', '0.01');
    expect([refused.statusCode, refused.json().error.code]).toEqual([422, 'insufficient_credit']);
    expect((await credits(org.id)).creditLimit).toMatchObject({ amount: '0.00', kind: 'permanent' });
  });

  it('postpaid usable credits are the limit minus unbilled minus holds, and a hold moves between usable and reserved', async () => {
    const org = await create({ name: 'Postpaid Usage Ltd', currency: 'SGD', paymentScheme: 'postpaid', invoiceSetup: 'individual', creditLimit: { amount: '100' } });
    expect((await charge(org, 'call', 12_345_000n)).ok).toBe(true);
    expect((await charge(org, 'subscription', 20_000_000n)).ok).toBe(true);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '67.655', expectingInvoice: '-12.345', reservedCredits: '0.00', balance: null });
    const held = await hold(org, 'unbilled', '7.655');
    expect(held.statusCode).toBe(201);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '60.00', reservedCredits: '7.655' });
    await t.call({ method: 'POST', url: `/v1/transfers/${held.json().id}/void`, headers: key() });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '67.655', reservedCredits: '0.00' });
    // Posting part of a hold spends that part and frees the rest.
    const spent = await hold(org, 'unbilled', '10.00');
    expect(await credits(org.id)).toMatchObject({ usableCredits: '57.655', reservedCredits: '10.00' });
    await t.call({ method: 'POST', url: `/v1/transfers/${spent.json().id}/post`, headers: key(), payload: { amount: '2.655' } });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '65.00', reservedCredits: '0.00' });
    // Beyond the limit a charge is refused, and nothing is recorded.
    expect(await charge(org, 'call', 65_000_001n)).toMatchObject({ ok: false, code: 'insufficient_credit' });
    expect((await credits(org.id)).expectingInvoice).toBe('-12.345');
  });

  it('records payments against the amount due and keeps an overpayment as credit', async () => {
    const org = await create({ name: 'Payer Ltd', currency: 'SGD', paymentScheme: 'postpaid', creditLimit: { amount: '100' } });
    // An invoice of 40.00, as a bill run will post it.
    const receivable = org.accounts.receivable!;
    await t.services.ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: receivable, creditAccountId: org.accounts.unbilled!, amount: 40_000_000n, code: 'invoice' }] });
    expect((await credits(org.id)).amountDue).toBe('-40.00');
    const headers = key();
    const pay = () => t.call({ method: 'POST', url: `/v1/organizations/${org.id}/payments`, headers, payload: { amount: '50.00', method: 'bank_transfer', reference: 'RF18539007547034' } });
    const payment = await pay();
    expect(payment.statusCode, payment.body).toBe(201);
    const replayed = await pay();
    expect([replayed.json().id, replayed.headers['idempotent-replayed']]).toEqual([payment.json().id, 'true']);
    const fraction = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/payments`, headers: key(), payload: { amount: '1.005', method: 'cash' } });
    expect([fraction.statusCode, fraction.json().error]).toEqual([400, { code: 'invalid_amount', message: 'a payment in SGD has at most 2 decimals' }]);
    expect(await credits(org.id)).toMatchObject({ amountDue: '10.00', currentBalance: '10.00' });
    const audit = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}&limit=1` })).json().data[0];
    expect(audit).toMatchObject({ action: 'payment.recorded', after: { amount: '50.00', method: 'bank_transfer', reference: 'RF18539007547034' } });
  });

  it('adjusts balances with an idempotency key and a reason, once', async () => {
    const org = await create({ name: 'Adjusted Ltd', currency: 'SGD' });
    const headers = key();
    const payload = { amount: '15.00', reason: 'goodwill' };
    const first = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers, payload });
    const again = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers, payload });
    expect(again.json().id).toBe(first.json().id);
    expect([first.headers['idempotent-replayed'], again.headers['idempotent-replayed']]).toEqual([undefined, 'true']);
    expect((await credits(org.id)).balance).toBe('15.00');
    const debit = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: key(), payload: { amount: '-15.01', reason: 'too much' } });
    expect([debit.statusCode, debit.json().error.code]).toEqual([422, 'insufficient_credit']);
    const entries = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}` })).json().data;
    expect(entries.filter((entry: { action: string }) => entry.action === 'adjustment.created')).toHaveLength(1);
    for (const [body, code] of [
      [{ amount: '1.00' }, 'invalid_input'],
      [{ amount: 1, reason: 'x' }, 'invalid_input'],
      [{ amount: '0', reason: 'x' }, 'invalid_amount'],
      // Near a BIGINT's limit it would fill the shared adjustments account for every organization.
      [{ amount: '9223372036854.775807', reason: 'x' }, 'invalid_amount'],
    ] as const) {
      const response = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: key(), payload: body });
      expect([response.statusCode, response.json().error.code], JSON.stringify(body)).toEqual([400, code]);
    }
    const noKey = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, payload });
    expect(noKey.json().error.code).toBe('idempotency_key_required');
    expect((await credits(org.id)).balance).toBe('15.00');
  });

  it('validates the billing profile, naming the field, and locks the currency once money has moved', async () => {
    const org = await create({ name: 'Profile Ltd', currency: 'SGD' });
    const put = (payload: Record<string, unknown>) => t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/billing-profile`, payload });
    const bad = await put({ currency: 'SGD', timeZone: 'Nowhere/City' });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'invalid_input']);
    expect(bad.json().error.message).toContain('billingProfile.timeZone');
    expect((await put({ currency: 'SGD', address: { country: 'ZZ' } })).json().error.message).toContain('address.country');
    // An organization's own account codes are Ringbill's; another account the operator opens
    // for it keeps its currency when the organization's changes.
    const reserved = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'funds', currency: 'GBP', organizationId: org.id } });
    expect([reserved.statusCode, reserved.json().error.code]).toEqual([400, 'invalid_input']);
    const deposit = await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: 'deposit', currency: 'USD', organizationId: org.id } });
    expect(deposit.statusCode, deposit.body).toBe(201);
    // No money yet: the currency may change.
    const before = (await findOrganization(t.database.db, org.id))!;
    const moved = await put({ currency: 'GBP', timeZone: 'Europe/London', taxRate: '20' });
    expect(moved.statusCode, moved.body).toBe(200);
    // A request that read the organization before the change is told to send it again, not a 500.
    const stale = recordAdjustment(t.services, { organization: before, amount: 1_000_000n, reason: 'raced', idempotencyKey: { scope: 'test', key: `stale-${org.id}` }, actor: 'test' });
    await expect(stale).rejects.toMatchObject({ code: 'currency_mismatch', message: "the organization's currency changed to GBP while this request ran; send it again" });
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}` })).json().currency).toBe('GBP');
    expect((await t.call({ method: 'GET', url: `/v1/accounts/${deposit.json().id}` })).json().currency).toBe('USD');
    // One of its own codes in the new currency, opened before the API refused them: refused, not a 500.
    unwrap(await t.services.ledger.createAccount({ organizationId: org.id, code: 'funds', currency: parseCurrency('EUR')!, debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false, overdraftLimit: 0n }));
    const clash = await put({ currency: 'EUR', timeZone: 'Europe/London' });
    expect([clash.statusCode, clash.json().error.code, clash.json().error.message]).toEqual([422, 'currency_locked', expect.stringContaining('already has a funds account')]);
    await fund({ ...org }, '5.00');
    const locked = await put({ currency: 'USD', timeZone: 'Europe/London' });
    expect([locked.statusCode, locked.json().error.code]).toEqual([422, 'currency_locked']);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/billing-profile` })).json()).toMatchObject({ currency: 'GBP', taxRate: '20' });
    expect((await credits(org.id)).balance).toBe('5.00');
  });

  it('refuses a currency change that races the organization’s first transfer (a batch holding its accounts)', async () => {
    const org = await create({ name: 'Racing Ltd', currency: 'SGD' });
    // The first money in: written, its accounts locked, not yet committed.
    const funding = await heldAdjustment(org, 5_000_000n);
    const answer = await funding.meanwhile(() => t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/billing-profile`, payload: { currency: 'GBP' } }));
    expect([answer.statusCode, answer.json().error?.code]).toEqual([422, 'currency_locked']);
    expect((await credits(org.id)).balance).toBe('5.00');
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('refuses a payment scheme change that races the organization’s first transfer', async () => {
    const org = await create({ name: 'Scheme Racing Ltd', currency: 'SGD', creditLimit: { amount: '5' } });
    const funding = await heldAdjustment(org, 1_000_000n);
    const answer = await funding.meanwhile(() => t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { paymentScheme: 'postpaid' } }));
    expect([answer.statusCode, answer.json().error?.code]).toEqual([422, 'payment_scheme_locked']);
    // Still prepaid, its money on the account its charges debit.
    expect(await credits(org.id)).toMatchObject({ balance: '1.00', usableCredits: '6.00' });
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('sets a credit limit while a batch that holds the organization’s account writes a row that refers to the organization', async () => {
    const org = await create({ name: 'Busy Ltd', currency: 'SGD' });
    // An adjustment's batch: the account locked and the transfer written, its audit row (a foreign
    // key to the organization) still to come while the credit limit waits for the account.
    const adjusting = await heldAdjustment(org, 1_000_000n, (tx) =>
      writeAudit(tx, { organizationId: org.id, actor: 'test', action: 'adjustment.created', before: null, after: null, at: t.clock.now() }),
    );
    const answer = await adjusting.meanwhile(() => t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '25' } }));
    expect(answer.statusCode, answer.body).toBe(200);
    expect((await credits(org.id)).creditLimit.amount).toBe('25.00');
  });

  it('refuses bad credit limits and leaves limit and audit log as they were', async () => {
    const org = await create({ name: 'Limits Ltd', currency: 'SGD', creditLimit: { amount: '10' } });
    const before = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}` })).json().data.length;
    for (const payload of [{ amount: '-5' }, { amount: '5', temporaryDays: 0 }, { amount: '5', temporaryDays: 366 }, { amount: 5 }]) {
      const response = await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect((await credits(org.id)).creditLimit.amount).toBe('10.00');
    expect((await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}` })).json().data).toHaveLength(before);
  });

  it('shows a customer key its own organization only, and does not let it set its own credit limit', async () => {
    const mine = await create({ name: 'Customer Own', currency: 'SGD' });
    const theirs = await create({ name: 'Customer Other', currency: 'SGD' });
    const customer = (await t.call({ method: 'POST', url: `/v1/organizations/${mine.id}/api-keys`, payload: { name: 'portal' } })).json().key as string;
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${mine.id}/credits`, key: customer })).statusCode).toBe(200);
    for (const url of [`/v1/organizations/${theirs.id}`, `/v1/organizations/${theirs.id}/credits`, `/v1/organizations/${theirs.id}/billing-profile`, `/v1/accounts?organizationId=${theirs.id}`]) {
      expect((await t.call({ method: 'GET', url, key: customer })).statusCode, url).toBe(404);
    }
    // Its own id in capitals is still its own.
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${mine.id.toUpperCase()}`, key: customer })).statusCode).toBe(200);
    const own = await t.call({ method: 'PUT', url: `/v1/organizations/${mine.id}/credit-limit`, key: customer, payload: { amount: '1000' } });
    expect([own.statusCode, own.json().error.code]).toEqual([403, 'forbidden']);
    const other = await t.call({ method: 'PUT', url: `/v1/organizations/${theirs.id}/credit-limit`, key: customer, payload: { amount: '1000' } });
    expect(other.statusCode).toBe(404);
    const listed = (await t.call({ method: 'GET', url: '/v1/organizations?q=Customer', key: customer })).json().data;
    expect(listed.map((row: OrganizationJson) => row.id)).toEqual([mine.id]);
    expect((await t.call({ method: 'GET', url: '/v1/organizations', key: customer })).json().data.map((row: OrganizationJson) => row.id)).toEqual([mine.id]);
    // A page of one: the cursor must not lead to, or name, another organization.
    const paged = (await t.call({ method: 'GET', url: '/v1/organizations?q=Customer&limit=1', key: customer })).json();
    expect([paged.data.map((row: OrganizationJson) => row.id), paged.nextCursor === null || !Buffer.from(paged.nextCursor, 'base64url').toString().includes(theirs.id)]).toEqual([[mine.id], true]);
    const named = await t.call({ method: 'GET', url: '/v1/organizations?q=Customer%20Other&limit=1', key: customer });
    expect(named.json()).toEqual({ data: [], nextCursor: null });
    expect((await t.call({ method: 'GET', url: '/v1/audit-log', key: customer })).statusCode).toBe(403);
    const audit = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${mine.id}&limit=1` })).json().data[0];
    expect(audit).toMatchObject({ action: 'api_key.created', after: { role: 'organization', name: 'portal' } });
  });

  it('changes an organization, keeps account codes unique and locks the scheme once money moved', async () => {
    const org = await create({ name: 'Changing Ltd', currency: 'SGD', creditLimit: { amount: '30' } });
    const patch = (payload: Record<string, unknown>) => t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload });
    const switched = await patch({ paymentScheme: 'postpaid', name: 'Changed Ltd', accountCode: 'CHG01' });
    expect(switched.statusCode, switched.body).toBe(200);
    expect(switched.json()).toMatchObject({ paymentScheme: 'postpaid', name: 'Changed Ltd', accountCode: 'CHG01', creditLimit: { amount: '30.00' } });
    const other = await create({ name: 'Other Code', currency: 'SGD' });
    const taken = await t.call({ method: 'PATCH', url: `/v1/organizations/${other.id}`, payload: { accountCode: 'CHG01' } });
    expect([taken.statusCode, taken.json().error.code]).toEqual([409, 'account_code_taken']);
    // Another organization's wallet ID, in any written form, is no account code: a CDR naming it
    // would be charged to the one with the code.
    for (const code of [org.walletId, org.walletId.replaceAll('-', '')]) {
      const wallet = await t.call({ method: 'PATCH', url: `/v1/organizations/${other.id}`, payload: { accountCode: code } });
      expect([wallet.statusCode, wallet.json().error.message]).toEqual([409, `"${code}" is another organization's wallet ID; CDRs naming it would be charged to the wrong organization`]);
    }
    const created = await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Wallet Code', currency: 'SGD', accountCode: org.walletId } });
    expect([created.statusCode, created.json().error.code]).toEqual([409, 'account_code_taken']);
    expect((await t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { accountCode: org.walletId } })).statusCode).toBe(200);
    await charge({ ...org }, 'call', 1_000_000n);
    const locked = await patch({ paymentScheme: 'prepaid' });
    expect([locked.statusCode, locked.json().error.code]).toEqual([422, 'payment_scheme_locked']);
    expect((await patch({ status: 'suspended' })).json().status).toBe('suspended');
  });

  it('answers what it cannot store, or cannot even route, with the API’s error shape', async () => {
    for (const payload of [{ name: 'A\u0000B', currency: 'SGD' }, { name: 'Nul Ltd', currency: 'SGD', billingProfile: { companyName: 'X\u0000' } }]) {
      const refused = await t.call({ method: 'POST', url: '/v1/organizations', payload });
      expect([refused.statusCode, refused.json().error], JSON.stringify(payload)).toEqual([400, { code: 'invalid_input', message: 'text must not contain the NUL character (\\u0000)' }]);
    }
    const surrogate = await t.call({ method: 'POST', url: '/v1/organizations', payload: '{"name": "A\\ud800B", "currency": "SGD"}', headers: { 'content-type': 'application/json' } });
    expect([surrogate.statusCode, surrogate.json().error.code]).toEqual([400, 'invalid_input']);
    const badUrl = await t.call({ method: 'GET', url: '/v1/organizations/%E0%A4%A' });
    expect([badUrl.statusCode, badUrl.json().error.code]).toEqual([400, 'invalid_input']);
    // 150 characters (300 UTF-16 units) is within the 200 allowed.
    expect((await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: '\u{1F4DE}'.repeat(150), currency: 'SGD' } })).statusCode).toBe(201);
  });

  it('leaves the ledger balanced', async () => {
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });
});
