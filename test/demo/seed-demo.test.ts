import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/api-keys.ts';
import { seedDemo } from '../../src/demo/seed-demo.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { formatMicros } from '../../src/money/index.ts';
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
