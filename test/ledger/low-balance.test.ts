import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowBalanceEvent } from '../../src/ledger/low-balance.ts';
import { listEvents } from '../../src/notifications/events.ts';
import { account, T0 } from '../helpers/accounts.ts';
import { importDefaultDeck, startTestApp, type TestApp } from '../helpers/app.ts';
import { testDatabaseKind } from '../helpers/database.ts';

describe('a fall to the low-balance threshold', () => {
  const spending = (credits: bigint, fields: Parameters<typeof account>[1] = {}) =>
    account('credit', { organizationId: 'org', debitsMustNotExceedCredits: true, creditsPosted: credits, lowBalanceThreshold: 10n, ...fields });

  it('is a change from above the threshold to at or below it, and nothing else', () => {
    expect(lowBalanceEvent(spending(11n), spending(10n), T0)?.data).toEqual({ usableCredits: '0.00001', threshold: '0.00001', currency: 'SGD' });
    expect(lowBalanceEvent(spending(11n), spending(11n), T0)).toBeUndefined();
    expect(lowBalanceEvent(spending(10n), spending(9n), T0)).toBeUndefined();
    expect(lowBalanceEvent(spending(9n), spending(20n), T0)).toBeUndefined();
    expect(lowBalanceEvent(spending(11n, { lowBalanceThreshold: null }), spending(5n, { lowBalanceThreshold: null }), T0)).toBeUndefined();
  });

  it('judges each side by its own threshold: a threshold raised over the credit left is a fall', () => {
    expect(lowBalanceEvent(spending(15n, { lowBalanceThreshold: null }), spending(15n, { lowBalanceThreshold: 20n }), T0)).toBeDefined();
    expect(lowBalanceEvent(spending(15n, { lowBalanceThreshold: 15n }), spending(15n, { lowBalanceThreshold: 20n }), T0)).toBeUndefined();
  });

  it('counts a temporary credit limit until its instant', () => {
    const limited = spending(5n, { temporaryOverdraftLimit: 100n, temporaryOverdraftExpiresAt: new Date(T0.getTime() + 1000) });
    expect(lowBalanceEvent(limited, { ...limited, creditsPosted: 4n }, T0)).toBeUndefined();
    const ended = new Date(T0.getTime() + 1000);
    expect(lowBalanceEvent(limited, { ...limited, temporaryOverdraftLimit: null, temporaryOverdraftExpiresAt: null }, ended, new Date(ended.getTime() - 1))).toBeDefined();
  });
});

describe(`balance.low on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let names = 0;

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-11-02T09:00:00Z') });
    await importDefaultDeck(t);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function organization(balance: string, threshold: string) {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: `Low ${++names}`, currency: 'SGD', lowCreditThreshold: threshold } })).json() as { id: string };
    if (balance !== '0') await adjust(org, balance);
    return org;
  }
  const adjust = async (org: { id: string }, amount: string) => {
    const adjusted = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `adjust-${++names}` }, payload: { amount, reason: 'test' } });
    expect(adjusted.statusCode, adjusted.body).toBe(201);
  };
  // An SMS to the UK costs 0.05 on the sample deck.
  const sms = (org: { id: string }, eventId: string) => t.call({ method: 'POST', url: '/v1/charging/events', payload: { organizationId: org.id, service: 'sms', destination: '447700900123', eventId } });
  const raised = async (org: { id: string }) => (await listEvents(t.database.db, { type: 'balance.low', organizationId: org.id, limit: 100 })).map((event) => event.data.usableCredits).reverse();

  it('is raised once when many charges at once take credit past the threshold', async () => {
    const org = await organization('10.50', '10.00');
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => sms(org, `race-${i}`)));
    expect(sent.every((response) => response.statusCode === 201)).toBe(true);
    expect(await raised(org)).toEqual(['10.00']);
  });

  it('is raised again after credit that went back up, however it went up and came down', async () => {
    const org = await organization('10.05', '10.00');
    await sms(org, 'a');
    expect(await raised(org)).toEqual(['10.00']);
    // A temporary limit lifts it; running out a day later takes it down again, with no charge.
    const limit = await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '50', temporaryDays: 1 } });
    expect(limit.statusCode, limit.body).toBe(200);
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 86_400 + 60 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_credit_limits', handled: 1 });
    expect(await raised(org)).toEqual(['10.00', '10.00']);
    await sms(org, 'b');
    expect(await raised(org)).toEqual(['10.00', '10.00']);
    // A top-up and an adjustment back down.
    await adjust(org, '50.00');
    await adjust(org, '-50.00');
    expect(await raised(org)).toEqual(['10.00', '10.00', '9.95']);
    // A permanent limit cut.
    await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '5' } });
    await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '0' } });
    expect(await raised(org)).toEqual(['10.00', '10.00', '9.95', '9.95']);
    // A threshold set above the credit left, where the old one was under it.
    await adjust(org, '5.05');
    const raisedThreshold = await t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { lowCreditThreshold: '20.00' } });
    expect(raisedThreshold.statusCode, raisedThreshold.body).toBe(200);
    expect(await raised(org)).toEqual(['10.00', '10.00', '9.95', '9.95', '15.00']);
  });

  it('is raised when a change of payment scheme ends a temporary limit and takes credit under the threshold', async () => {
    const org = await organization('0', '10.00');
    await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/credit-limit`, payload: { amount: '100.00', temporaryDays: 7 } });
    const changed = await t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { paymentScheme: 'postpaid' } });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(await raised(org)).toEqual(['0.00']);
  });

  it('is raised by a live call’s hold, and once for a limit that ran out after a charge had already taken the fall', async () => {
    const org = await organization('10.10', '10.00');
    const call = await t.call({ method: 'POST', url: '/v1/charging/sessions', payload: { organizationId: org.id, destination: '2348031234567', callId: 'low-call' } });
    expect(call.statusCode, call.body).toBe(201);
    expect(await raised(org)).toHaveLength(1);
    await t.call({ method: 'POST', url: `/v1/charging/sessions/${call.json().id}/terminate`, payload: { usedSeconds: 0 } });

    // Above the threshold only by a temporary limit: when it ends the credit left is 10.45, still
    // above; a charge then takes the fall before the job has run, and the job raises nothing more.
    const other = await organization('10.45', '10.40');
    await t.call({ method: 'PUT', url: `/v1/organizations/${other.id}/credit-limit`, payload: { amount: '50', temporaryDays: 1 } });
    t.clock.set(new Date(t.clock.now().getTime() + 86_400_000 + 1000));
    await sms(other, 'after-expiry');
    expect(await raised(other)).toEqual(['10.40']);
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_credit_limits', handled: 1 });
    expect(await raised(other)).toEqual(['10.40']);
  });
});
