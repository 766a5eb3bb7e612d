import { readFileSync } from 'node:fs';
import { createApiKey, listApiKeys } from '../auth/api-keys.ts';
import { recordCharge } from '../billing/record-charge.ts';
import { unwrap } from '../errors.ts';
import { parseCurrency } from '../money/index.ts';
import { accountsOf } from '../organizations/organization-accounts.ts';
import { createOrganization, type CreateOrganizationInput } from '../organizations/create-organization.ts';
import { importRateDeck } from '../rating/import-rate-deck.ts';
import { findDefaultDeck } from '../rating/rate-deck-store.ts';
import { findOrganizationByAccountCode } from '../organizations/organization-store.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Services } from '../services.ts';

export interface DemoSeed {
  organizations: Organization[];
  /** A key that sees only the first organization: what a customer's portal would use. */
  organizationKey: { organization: Organization; secret: string };
}

const ONE = 1_000_000n;
const CUSTOMER_KEY_NAME = 'demo customer';

/**
 * The demo provider: a default rate deck and three customers: a prepaid organization with a
 * balance, a prepaid one on a temporary credit limit, and a postpaid one with individual invoices
 * and a monthly tax invoice for usage, with some usage waiting for that invoice. Answers
 * undefined when they exist already.
 *
 * The customer's key is made last: without it, a first start stopped part way (the process
 * killed), and this finishes the seed, each step finding what it made before (organizations by
 * account code, postings by idempotency key).
 */
export async function seedDemo(services: Services): Promise<DemoSeed | undefined> {
  const first = await findOrganizationByAccountCode(services.db, 'ACME01');
  if (first && (await listApiKeys(services.db, { organizationId: first.id })).some((key) => key.name === CUSTOMER_KEY_NAME)) return undefined;
  const actor = 'demo';
  const ensureOrganization = async (input: CreateOrganizationInput & { accountCode: string }) =>
    (await findOrganizationByAccountCode(services.db, input.accountCode)) ?? unwrap(await createOrganization(services, input));
  // A default rate deck, so that quotes, live calls and CDR files work from the start.
  if (!(await findDefaultDeck(services.db))) {
    const csv = readFileSync(new URL('./demo-rate-deck.csv', import.meta.url), 'utf8');
    unwrap(await importRateDeck(services, csv, { name: 'demo retail', effectiveFrom: new Date('2026-01-01T00:00:00Z'), makeDefault: true, source: 'demo' }));
    services.rating.invalidate();
  }
  const acme = await ensureOrganization({
    name: 'Acme Pte Ltd',
    paymentScheme: 'prepaid',
    invoiceSetup: 'consolidated',
    accountCode: 'ACME01',
    billingProfile: {
      companyName: 'Acme Pte Ltd',
      address: { lines: ['1 Raffles Place', '#20-01'], city: 'Singapore', postalCode: '048616', country: 'SG' },
      currency: 'SGD',
      timeZone: 'Asia/Singapore',
      billingEmail: 'accounts@acme.example',
      taxId: '201912345K',
      taxRate: '9',
    },
    actor,
  });
  const globex = await ensureOrganization({
    name: 'Globex Trading',
    paymentScheme: 'prepaid',
    invoiceSetup: 'consolidated',
    accountCode: 'GLOBEX',
    billingProfile: { currency: 'SGD', timeZone: 'Asia/Singapore', billingEmail: 'finance@globex.example', taxRate: '9' },
    creditLimit: { amount: 100n * ONE, temporaryDays: 7 },
    actor,
  });
  const initech = await ensureOrganization({
    name: 'Initech Systems Ltd',
    paymentScheme: 'postpaid',
    invoiceSetup: 'individual',
    accountCode: 'INITECH',
    billingProfile: {
      companyName: 'Initech Systems Ltd',
      address: { lines: ['4 Station Road'], city: 'London', postalCode: 'EC1A 1BB', country: 'GB' },
      currency: 'GBP',
      timeZone: 'Europe/London',
      billingEmail: 'ap@initech.example',
      taxId: 'GB123456789',
      taxRate: '20',
    },
    creditLimit: { amount: 1000n * ONE },
    actor,
  });

  // Opening balances, as top-ups received through the bank.
  const sgd = parseCurrency('SGD')!;
  const bank = await services.ledger.providerAccount('bank', sgd);
  for (const [organization, amount] of [
    [acme, 250n * ONE],
    [globex, 5n * ONE],
  ] as const) {
    const accounts = await accountsOf(services.db, organization);
    unwrap(
      await services.ledger.execute({
        transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: accounts.credit.id, amount, code: 'topup', metadata: { demo: true } }],
        idempotencyKey: { scope: 'demo', key: `opening-balance:${organization.id}` },
      }),
    );
  }
  // Usage waiting for Initech's monthly tax invoice.
  for (const [index, amount] of [12_345_600n, 3_210_000n, 205_440n].entries()) {
    unwrap(
      await recordCharge(services, {
        organization: initech,
        kind: 'call',
        amount,
        description: 'Calls',
        occurredAt: services.clock.now(),
        idempotencyKey: { scope: 'demo', key: `usage:${initech.id}:${index}` },
      }),
    );
  }

  const key = await createApiKey(services.db, services.clock, { role: 'organization', organizationId: acme.id }, CUSTOMER_KEY_NAME);
  return { organizations: [acme, globex, initech], organizationKey: { organization: acme, secret: key.secret } };
}
