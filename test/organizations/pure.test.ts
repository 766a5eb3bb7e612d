import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ChargeKind } from '../../src/billing/charge.ts';
import { billPeriodOf } from '../../src/billing/charge.ts';
import type { Account } from '../../src/ledger/types.ts';
import { parseCurrency, parseMicros, formatMicros } from '../../src/money/index.ts';
import { buildBillingProfile, defaultBillingProfile } from '../../src/organizations/billing-profile.ts';
import { creditLimitOf, planCreditLimit } from '../../src/organizations/credit-limit.ts';
import { computeCredits } from '../../src/organizations/credits.ts';
import { account as spendingAccount, T0 } from '../helpers/accounts.ts';
import { interpretQuery } from '../../src/organizations/search-organizations.ts';
import { newWalletId, parseWalletId } from '../../src/organizations/wallet-id.ts';

const SGD = parseCurrency('SGD')!;
const m = (text: string) => {
  const parsed = parseMicros(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

function account(fields: Partial<Account> = {}): Account {
  return spendingAccount('acc', { organizationId: 'org', code: 'credit', debitsMustNotExceedCredits: true, ...fields });
}

describe('wallet IDs', () => {
  it('are nine digits with a check digit that catches a misheard digit', () => {
    const id = newWalletId(() => 51288403);
    expect(id).toMatch(/^\d{3}-\d{3}-\d{3}$/);
    expect(parseWalletId(id)).toBe(id);
    expect(parseWalletId(id.replaceAll('-', ' '))).toBe(id);
    expect(parseWalletId(id.replaceAll('-', ''))).toBe(id);
    const digits = id.replaceAll('-', '');
    for (let position = 0; position < 9; position++) {
      const wrong = digits.slice(0, position) + ((Number(digits[position]) + 1) % 10) + digits.slice(position + 1);
      expect(parseWalletId(wrong), wrong).toBeUndefined();
    }
    expect(parseWalletId('12345678')).toBeUndefined();
    expect(parseWalletId('acme')).toBeUndefined();
  });

  it('always parse back to themselves', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), (n) => {
        expect(parseWalletId(newWalletId(() => n))).toBe(newWalletId(() => n));
      }),
    );
  });
});

describe('search queries', () => {
  it('tell a UUID, a wallet ID and a name fragment apart', () => {
    expect(interpretQuery('6F1C2B9E-0D4A-4E7B-9C3D-2A1B0C9D8E7F')).toEqual({ by: 'id', id: '6f1c2b9e-0d4a-4e7b-9c3d-2a1b0c9d8e7f' });
    const wallet = newWalletId(() => 12345678);
    expect(interpretQuery(` ${wallet.replaceAll('-', ' ')} `)).toEqual({ by: 'wallet_id', walletId: wallet });
    expect(interpretQuery('acme')).toEqual({ by: 'name', fragment: 'acme' });
    // Nine digits that fail the check digit are a name fragment, not a wallet ID.
    expect(interpretQuery('123456789').by).toBe(parseWalletId('123456789') ? 'wallet_id' : 'name');
    expect(interpretQuery('  ')).toEqual({ by: 'all' });
  });
});

describe('credit limits', () => {
  it('a temporary credit limit holds until the instant it expires, then the permanent one is back exactly', () => {
    const expiresAt = new Date(T0.getTime() + 7 * 86_400_000);
    const wallet = account({ overdraftLimit: m('50'), temporaryOverdraftLimit: m('500'), temporaryOverdraftExpiresAt: expiresAt });
    expect(creditLimitOf(wallet, new Date(expiresAt.getTime() - 1))).toEqual({ amount: m('500'), kind: 'temporary', expiresAt, permanentAmount: m('50') });
    expect(creditLimitOf(wallet, expiresAt)).toEqual({ amount: m('50'), kind: 'permanent', expiresAt: null, permanentAmount: m('50') });
  });

  it('plans permanent and temporary limits, and refuses the invalid ones', () => {
    const current = account({ overdraftLimit: m('50') });
    expect(planCreditLimit({ amount: m('100') }, 'prepaid', current, T0)).toEqual({ ok: true, value: { permanent: m('100'), temporary: null } });
    expect(planCreditLimit({ amount: m('500'), temporaryDays: 7 }, 'prepaid', current, T0)).toEqual({
      ok: true,
      value: { permanent: m('50'), temporary: { limit: m('500'), expiresAt: new Date('2026-11-08T00:00:00Z') } },
    });
    expect(planCreditLimit({ amount: 0n }, 'prepaid', current, T0).ok).toBe(true);
    expect(planCreditLimit({ amount: -1n }, 'prepaid', current, T0)).toMatchObject({ ok: false, code: 'invalid_amount' });
    for (const days of [0, 366, 1.5]) expect(planCreditLimit({ amount: 1n, temporaryDays: days }, 'prepaid', current, T0)).toMatchObject({ code: 'invalid_input' });
    expect(planCreditLimit({ amount: 1n, temporaryDays: 3 }, 'postpaid', current, T0)).toMatchObject({ code: 'temporary_credit_limit_not_allowed' });
  });
});

describe('the credits view', () => {
  const charges = (entries: [ChargeKind, string][]) => new Map(entries.map(([kind, amount]) => [kind, m(amount)]));

  it('reproduces the seed examples: -0.20544 expecting and -1610.61 due is -1610.81544; 65.98 and -0.000009 is 65.979991', () => {
    const owes = computeCredits({
      paymentScheme: 'postpaid',
      invoiceSetup: 'individual',
      spending: account({ code: 'unbilled', overdraftLimit: m('2000'), debitsPosted: m('0.20544') }),
      receivable: account({ code: 'receivable', debitsPosted: m('1610.61') }),
      uninvoicedCharges: charges([['call', '0.20544']]),
      now: T0,
    });
    expect(formatMicros(owes.expectingInvoice, SGD)).toBe('-0.20544');
    expect(formatMicros(owes.amountDue, SGD)).toBe('-1610.61');
    expect(formatMicros(owes.currentBalance, SGD)).toBe('-1610.81544');

    const inCredit = computeCredits({
      paymentScheme: 'prepaid',
      invoiceSetup: 'consolidated',
      spending: account({ creditsPosted: m('100') }),
      receivable: account({ code: 'receivable', debitsPosted: m('34.02'), creditsPosted: m('100') }),
      uninvoicedCharges: charges([['sms', '0.000009']]),
      now: T0,
    });
    expect(formatMicros(inCredit.amountDue, SGD)).toBe('65.98');
    expect(formatMicros(inCredit.expectingInvoice, SGD)).toBe('-0.000009');
    expect(formatMicros(inCredit.currentBalance, SGD)).toBe('65.979991');
  });

  it('counts only usage as expecting invoice under individual invoices, and everything otherwise', () => {
    const base = { paymentScheme: 'prepaid' as const, spending: account(), receivable: account({ code: 'receivable' }), now: T0 };
    const uninvoiced = charges([['call', '1.50'], ['sms', '0.25'], ['subscription', '20'], ['hardware', '99']]);
    expect(computeCredits({ ...base, invoiceSetup: 'individual', uninvoicedCharges: uninvoiced }).expectingInvoice).toBe(-m('1.75'));
    expect(computeCredits({ ...base, invoiceSetup: 'consolidated', uninvoicedCharges: uninvoiced }).expectingInvoice).toBe(-m('120.75'));
    expect(computeCredits({ ...base, invoiceSetup: 'none', uninvoicedCharges: uninvoiced }).expectingInvoice).toBe(-m('120.75'));
  });

  it('prepaid usable is balance + the limit in force - holds; postpaid usable is limit - unbilled - holds', () => {
    const expiresAt = new Date(T0.getTime() + 86_400_000);
    const prepaid = account({ creditsPosted: m('10'), debitsPosted: m('4'), debitsPending: m('1'), overdraftLimit: m('20'), temporaryOverdraftLimit: m('100'), temporaryOverdraftExpiresAt: expiresAt });
    const view = (spending: Account, now: Date, paymentScheme: 'prepaid' | 'postpaid' = 'prepaid') =>
      computeCredits({ paymentScheme, invoiceSetup: 'consolidated', spending, receivable: account({ code: 'receivable' }), uninvoicedCharges: new Map(), now });
    expect(view(prepaid, T0)).toMatchObject({ usableCredits: m('105'), reservedCredits: m('1'), balance: m('6') });
    expect(view(prepaid, expiresAt)).toMatchObject({ usableCredits: m('25'), reservedCredits: m('1') });
    const postpaid = account({ code: 'unbilled', overdraftLimit: m('500'), debitsPosted: m('120'), debitsPending: m('30') });
    expect(view(postpaid, T0, 'postpaid')).toMatchObject({ usableCredits: m('350'), reservedCredits: m('30'), balance: null });
    // Closing the period moves the unbilled amount on: the limit is whole again.
    expect(view({ ...postpaid, creditsPosted: m('120') }, T0, 'postpaid').usableCredits).toBe(m('470'));
  });
});

describe('billing profiles', () => {
  const base = defaultBillingProfile('Acme', SGD, T0);

  it('accept a full profile', () => {
    const built = buildBillingProfile(
      { companyName: 'Acme Pte Ltd', address: { lines: ['1 Raffles Place', '#20-01'], city: 'Singapore', postalCode: '048616', country: 'sg' }, currency: 'SGD', timeZone: 'Asia/Singapore', billingEmail: 'billing@acme.sg', taxId: 'M2-1234567-8', taxRate: '9' },
      base,
      T0,
    );
    expect(built).toMatchObject({ ok: true, value: { timeZone: 'Asia/Singapore', taxRate: 9_000_000n, address: { country: 'SG' } } });
  });

  it('refuse each invalid field, naming it', () => {
    const cases: [Parameters<typeof buildBillingProfile>[0], string][] = [
      [{ currency: 'XYZ' }, 'billingProfile.currency'],
      [{ timeZone: 'Mars/Olympus' }, 'billingProfile.timeZone'],
      [{ billingEmail: 'not an email' }, 'billingProfile.billingEmail'],
      [{ taxRate: '101' }, 'billingProfile.taxRate'],
      [{ taxRate: 'nine' }, 'billingProfile.taxRate'],
      [{ address: { country: 'XX' } }, 'billingProfile.address.country'],
    ];
    for (const [input, field] of cases) {
      const built = buildBillingProfile(input, base, T0);
      expect(built.ok, field).toBe(false);
      if (!built.ok) expect(built.message).toContain(field);
    }
  });
});

describe('bill periods', () => {
  it('are calendar months in the organization’s time zone', () => {
    const instant = new Date('2026-11-30T17:30:00Z');
    expect(billPeriodOf(instant, 'UTC')).toBe('2026-11');
    expect(billPeriodOf(instant, 'Asia/Singapore')).toBe('2026-12');
    expect(billPeriodOf(new Date('2026-12-01T03:00:00Z'), 'America/New_York')).toBe('2026-11');
  });
});
