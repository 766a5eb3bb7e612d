import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/api-keys.ts';
import { seedDemo } from '../../src/demo/seed-demo.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { unwrap } from '../../src/errors.ts';
import { formatMicros, parseCurrency } from '../../src/money/index.ts';
import { createOrganization } from '../../src/organizations/create-organization.ts';
import { accountsOf } from '../../src/organizations/organization-accounts.ts';
import { getCredits } from '../../src/organizations/get-credits.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('the demo data', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('seeds a prepaid organization with a balance, one on a temporary limit and a postpaid one, once', async () => {
    const seeded = (await seedDemo(t.services))!;
    const [acme, globex, initech] = seeded.organizations;
    const view = async (organization: typeof acme) => {
      const credits = await getCredits(t.services, organization!);
      return { usable: formatMicros(credits.usableCredits, organization!.currency), limit: credits.creditLimit.kind, expecting: formatMicros(credits.expectingInvoice, organization!.currency) };
    };
    expect(acme).toMatchObject({ paymentScheme: 'prepaid', accountCode: 'ACME01' });
    expect(await view(acme)).toEqual({ usable: '250.00', limit: 'permanent', expecting: '0.00' });
    expect(globex).toMatchObject({ paymentScheme: 'prepaid', accountCode: 'GLOBEX' });
    expect(await view(globex)).toEqual({ usable: '105.00', limit: 'temporary', expecting: '0.00' });
    expect(initech).toMatchObject({ paymentScheme: 'postpaid', invoiceSetup: 'individual', currency: 'GBP' });
    expect(await view(initech)).toEqual({ usable: '984.23896', limit: 'permanent', expecting: '-15.76104' });
    expect(await authenticate(t.database.db, seeded.organizationKey.secret)).toMatchObject({ role: 'organization', organizationId: acme!.id });
    // A default deck prices calls from the start.
    const quoted = await t.call({ method: 'POST', url: '/v1/rating/quote', payload: { organizationId: acme!.id, destination: '6591234567', seconds: 61 } });
    expect(quoted.json()).toMatchObject({ cost: '0.042', currency: 'SGD' });
    expect(await seedDemo(t.services)).toBeUndefined();
    expect((await verifyLedger(t.database.db)).ok).toBe(true);
  });
});

describe('a demo seed stopped part way (the first start killed)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('is finished by the next start, nothing made twice', async () => {
    // The first organization made, with its opening balance; nothing after.
    const acme = unwrap(await createOrganization(t.services, { name: 'Acme Pte Ltd', currency: 'SGD', accountCode: 'ACME01', actor: 'demo' }));
    const bank = await t.services.ledger.providerAccount('bank', parseCurrency('SGD')!);
    const accounts = await accountsOf(t.database.db, acme);
    const opening = { kind: 'posted' as const, debitAccountId: bank.id, creditAccountId: accounts.credit.id, amount: 250_000_000n, code: 'topup', metadata: { demo: true } };
    unwrap(await t.services.ledger.execute({ transfers: [opening], idempotencyKey: { scope: 'demo', key: `opening-balance:${acme.id}` } }));

    const seeded = (await seedDemo(t.services))!;
    expect(seeded.organizations.map((organization) => organization.accountCode)).toEqual(['ACME01', 'GLOBEX', 'INITECH']);
    expect(seeded.organizations[0]!.id).toBe(acme.id);
    expect(formatMicros((await getCredits(t.services, acme)).usableCredits, acme.currency)).toBe('250.00');
    expect(formatMicros((await getCredits(t.services, seeded.organizations[2]!)).expectingInvoice, parseCurrency('GBP')!)).toBe('-15.76104');
    expect(await authenticate(t.database.db, seeded.organizationKey.secret)).toMatchObject({ organizationId: acme.id });
    expect(await seedDemo(t.services)).toBeUndefined();
  });
});
