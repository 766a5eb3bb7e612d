import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult } from '../../src/ledger/ledger.ts';
import type { LedgerCommand } from '../../src/ledger/types.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { importDefaultDeck, OPERATOR_KEY, startTestApp, type TestApp } from '../helpers/app.ts';


describe(`an authorize the switch stopped waiting for, on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-11-02T09:00:00Z') });
    await importDefaultDeck(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  /**
   * The results of the ledger commands an authorize sends with its abandonment signal, as they
   * come; `first` runs before each is queued. `restore` puts the ledger back.
   */
  function watchAuthorizes(first: (signal: AbortSignal) => Promise<unknown> = async () => undefined) {
    const ledger = t.services.ledger;
    const execute = ledger.execute.bind(ledger);
    const results: CommandResult[] = [];
    ledger.execute = async (command: LedgerCommand) => {
      const { signal } = command;
      if (!signal) return execute(command);
      await first(signal);
      const result = await execute(command);
      results.push(result);
      return result;
    };
    return { results, restore: () => (ledger.execute = execute) };
  }

  /** Sends an authorize over a connection of its own and closes it once `giveUp` resolves, as a switch whose HTTP client timed out. */
  async function authorizeAndGiveUp(organizationId: string, callId: string, giveUp: Promise<unknown>): Promise<void> {
    const call = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/charging/sessions', headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' } });
    call.on('error', () => undefined);
    call.end(JSON.stringify({ organizationId, destination: '6591234567', callId }));
    await giveUp;
    call.destroy();
  }

  /** An organization with 10.00 to spend. */
  async function fundedOrganization(name: string): Promise<{ id: string }> {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name, currency: 'SGD' } })).json() as { id: string };
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${org.id}` }, payload: { amount: '10.00', reason: 'test credit' } });
    return org;
  }

  it('holds nothing and leaves no session to expire and charge, when the switch closed the connection while it queued', async () => {
    const org = await fundedOrganization('Timed Out Ltd');

    // The ledger is busy: the authorize reaches its queue and waits there, as under load, until
    // its client has gone.
    let queued!: () => void;
    const arrived = new Promise<void>((resolve) => (queued = resolve));
    const { results, restore } = watchAuthorizes((signal) => {
      queued();
      return new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    });
    try {
      await authorizeAndGiveUp(org.id, 'gave-up-1', arrived);
      await expect.poll(() => results.length).toBe(1);
    } finally {
      restore();
    }
    expect(results[0]).toMatchObject({ ok: false, code: 'request_abandoned' });
    const live = await t.call({ method: 'GET', url: `/v1/charging/sessions?organizationId=${org.id}` });
    expect(live.json().data).toEqual([]);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/credits` })).json()).toMatchObject({ reservedCredits: '0.00', usableCredits: '10.00' });
    // Hours later nothing has expired and been charged.
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 3600 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_sessions', handled: 0 });
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/credits` })).json()).toMatchObject({ usableCredits: '10.00' });
    // Asking again with the same callId, once it waits for the answer, starts the call.
    const again = await t.call({ method: 'POST', url: '/v1/charging/sessions', payload: { organizationId: org.id, destination: '6591234567', callId: 'gave-up-1' } });
    expect(again.statusCode, again.body).toBe(201);
    expect((await verifyLedger(t.database.db)).ok).toBe(true);
  });

  it('drops it too when the switch closed the connection while its organization was being read', async () => {
    const org = await fundedOrganization('Slow Read Ltd');
    // The organization's read waits (a cache miss on a busy database) until the client has gone.
    const organizations = t.services.organizations;
    const get = organizations.get.bind(organizations);
    let reading!: () => void;
    const read = new Promise<void>((resolve) => (reading = resolve));
    let gone!: () => void;
    const closed = new Promise<void>((resolve) => (gone = resolve));
    organizations.get = async (id: string) => {
      if (id === org.id) {
        reading();
        await closed;
        // Give the server's socket its close before the read answers.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return get(id);
    };
    const { results, restore } = watchAuthorizes();
    try {
      await authorizeAndGiveUp(org.id, 'gave-up-2', read);
      gone();
      await expect.poll(() => results.length).toBe(1);
    } finally {
      organizations.get = get;
      restore();
    }
    expect(results[0]).toMatchObject({ ok: false, code: 'request_abandoned' });
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions?organizationId=${org.id}` })).json().data).toEqual([]);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/credits` })).json()).toMatchObject({ reservedCredits: '0.00', usableCredits: '10.00' });
  });
});
