import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeSession } from '../../src/charging/authorize-session.ts';
import { terminateSession, updateSession } from '../../src/charging/update-session.ts';
import { ERROR_CODES, failure, unwrap } from '../../src/errors.ts';
import { expireSessionsJob } from '../../src/charging/expire-sessions-job.ts';
import { listEvents } from '../../src/notifications/events.ts';
import { parseMicros } from '../../src/money/index.ts';
import { createServices } from '../../src/services.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { importDefaultDeck, startTestApp, type TestApp } from '../helpers/app.ts';


interface SessionJson {
  id: string;
  grantedSeconds: number;
  grantedTotalSeconds: number;
  usedSeconds: number;
  state: string;
  endReason: string | null;
  cost: string | null;
  billedSeconds: number | null;
  reservedCredits: string;
  charged: string;
}

describe(`live charging on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let keys = 0;

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-11-02T09:00:00Z') });
    await importDefaultDeck(t);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function organization(balance: string, extra: Record<string, unknown> = {}) {
    const created = await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: `Caller ${++keys}`, currency: 'SGD', ...extra } });
    expect(created.statusCode, created.body).toBe(201);
    const org = created.json();
    if (balance !== '0') {
      const funded = await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${org.id}` }, payload: { amount: balance, reason: 'test credit' } });
      expect(funded.statusCode, funded.body).toBe(201);
    }
    return org as { id: string };
  }

  const authorize = (organizationId: string, destination: string, callId: string, extra: Record<string, unknown> = {}) =>
    t.call({ method: 'POST', url: '/v1/charging/sessions', payload: { organizationId, destination, callId, ...extra } });
  const update = (id: string, usedSeconds: number) => t.call({ method: 'POST', url: `/v1/charging/sessions/${id}/update`, payload: { usedSeconds } });
  const terminate = (id: string, usedSeconds: number) => t.call({ method: 'POST', url: `/v1/charging/sessions/${id}/terminate`, payload: { usedSeconds } });
  const credits = async (id: string) => (await t.call({ method: 'GET', url: `/v1/organizations/${id}/credits` })).json();

  it('grants an interval, posts as the call goes and charges the exact cost at the end', async () => {
    const org = await organization('10.00');
    const started = await authorize(org.id, '2348031234567', 'call-1');
    expect(started.statusCode, started.body).toBe(201);
    const session = started.json() as SessionJson;
    // 0.02 connect + 0.20 for the first minute is held.
    expect(session).toMatchObject({ grantedSeconds: 60, usedSeconds: 0, reservedCredits: '0.22', state: 'active' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '9.78', reservedCredits: '0.22' });
    // The same callId again is the same session.
    const again = await authorize(org.id, '2348031234567', 'call-1');
    expect([again.statusCode, again.json().id]).toEqual([200, session.id]);

    const first = (await update(session.id, 60)).json() as SessionJson;
    expect(first).toMatchObject({ usedSeconds: 60, grantedSeconds: 60, grantedTotalSeconds: 120, charged: '0.22', reservedCredits: '0.20' });
    for (const used of [120, 180, 240, 300]) expect((await update(session.id, used)).statusCode).toBe(200);
    const ended = (await terminate(session.id, 361)).json() as SessionJson;
    // The grant ran to 360 s, so 361 s are charged as 360 s: 0.02 + 1.00 + 60 s at 0.15.
    expect(ended).toMatchObject({ state: 'ended', endReason: 'terminated', usedSeconds: 360, billedSeconds: 360, cost: '1.17' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '8.83', reservedCredits: '0.00', expectingInvoice: '-1.17' });
    // Terminating again answers the same.
    expect((await terminate(session.id, 400)).json()).toMatchObject({ cost: '1.17', usedSeconds: 360 });
    expect((await update(session.id, 400)).json().error.code).toBe('session_ended');
    const usage = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/usage` })).json();
    expect(usage.data).toMatchObject([{ service: 'voice', destination: '2348031234567', prefix: '2348', quantity: 360, billedQuantity: 360, cost: '1.17', source: 'session', externalId: 'call-1', billPeriod: '2026-11' }]);
    expect(usage.totals).toEqual([{ service: 'voice', records: 1, quantity: 360, billedQuantity: 360, cost: '1.17' }]);
  });

  it('refuses a callId used again for another destination, holding nothing more, and answers the same call written otherwise', async () => {
    const org = await organization('10.00');
    const first = await authorize(org.id, '2348031234567', 'reused-1');
    expect(first.statusCode, first.body).toBe(201);
    const before = await credits(org.id);
    const other = await authorize(org.id, '442071234567', 'reused-1');
    expect([other.statusCode, other.json().error.code], other.body).toEqual([409, 'idempotency_conflict']);
    expect(other.json().error.message).toContain('reused-1 was authorized for 2348031234567');
    expect(await credits(org.id)).toMatchObject({ usableCredits: before.usableCredits, reservedCredits: before.reservedCredits });
    // The same number with a + is the same call.
    const same = await authorize(org.id, '+2348031234567', 'reused-1');
    expect([same.statusCode, same.json().id]).toEqual([200, first.json().id]);
    // Ended, the call's id still names that call only.
    expect((await terminate(first.json().id, 30)).statusCode).toBe(200);
    expect((await authorize(org.id, '442071234567', 'reused-1')).statusCode).toBe(409);
  });

  it('charges nothing twice when the switch retries an update with the same seconds', async () => {
    const org = await organization('10.00');
    const session = (await authorize(org.id, '2348031234567', 'retried')).json() as SessionJson;
    const first = (await update(session.id, 60)).json() as SessionJson;
    expect(first).toMatchObject({ usedSeconds: 60, grantedTotalSeconds: 120, charged: '0.22', reservedCredits: '0.20' });
    const before = await credits(org.id);
    // The answer was lost; the switch asks again with the same cumulative seconds.
    const retried = (await update(session.id, 60)).json() as SessionJson;
    expect(retried).toMatchObject({ usedSeconds: 60, grantedTotalSeconds: 120, charged: '0.22', reservedCredits: '0.20' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: before.usableCredits, reservedCredits: '0.20' });
    // 90 s bill as two 60 s blocks: 0.02 + 2 x 0.20, once.
    expect((await terminate(session.id, 90)).json()).toMatchObject({ cost: '0.42', billedSeconds: 120 });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '9.58', reservedCredits: '0.00' });
  });

  it('takes a SIP URI for a destination, as rating.md shows one, over the API', async () => {
    const org = await organization('1.00');
    const uri = 'sip:+442071234567@10.0.0.5;user=phone';
    const started = await authorize(org.id, uri, 'sip-uri-1');
    expect(started.statusCode, started.body).toBe(201);
    expect((await terminate(started.json().id, 0)).json()).toMatchObject({ state: 'ended', cost: '0.00' });
    const quoted = await t.call({ method: 'POST', url: '/v1/rating/quote', payload: { organizationId: org.id, destination: uri, seconds: 60 } });
    expect([quoted.statusCode, quoted.json().prefix], quoted.body).toEqual([200, '4420']);
    const tooLong = await authorize(org.id, `sip:+44${'1'.repeat(70)}@pbx`, 'sip-uri-2');
    expect([tooLong.statusCode, tooLong.json().error.code]).toEqual([400, 'invalid_input']);
  });

  it('charges a short call exactly, however the blocks fall', async () => {
    const org = await organization('10.00');
    const session = (await authorize(org.id, '61298765432', 'short', { intervalSeconds: 120 })).json() as SessionJson;
    expect((await terminate(session.id, 61)).json()).toMatchObject({ cost: '0.070333', billedSeconds: 61 });
    const unanswered = (await authorize(org.id, '61298765432', 'unanswered')).json() as SessionJson;
    expect((await terminate(unanswered.id, 0)).json()).toMatchObject({ cost: '0.00', billedSeconds: 0 });
    expect((await credits(org.id)).usableCredits).toBe('9.929667');
  });

  it('leaves a live call’s hold to its session: posting or voiding it through the ledger is refused', async () => {
    const org = await organization('10.00');
    const session = (await authorize(org.id, '6591234567', 'hold-owner')).json() as SessionJson;
    const ledger = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/ledger` })).json().data as { id: string; kind: string }[];
    const hold = ledger.find((transfer) => transfer.kind === 'pending')!;
    for (const action of ['void', 'post']) {
      const refused = await t.call({ method: 'POST', url: `/v1/transfers/${hold.id}/${action}`, headers: { 'idempotency-key': `${action}-${hold.id}` }, payload: {} });
      expect([refused.statusCode, refused.json().error.code]).toEqual([422, 'hold_in_session']);
    }
    const ended = await terminate(session.id, 30);
    expect([ended.statusCode, ended.json().cost]).toEqual([200, '0.021']);
    // A hold whose metadata names a session it is not that session's own: the ledger's to void.
    const accounts = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}` })).json().accounts;
    const bank = (await t.call({ method: 'POST', url: '/v1/accounts', payload: { code: `bank-${org.id}`, currency: 'SGD' } })).json();
    const other = await t.call({ method: 'POST', url: '/v1/transfers', headers: { 'idempotency-key': `order-${org.id}` }, payload: { debitAccountId: accounts.credit, creditAccountId: bank.id, amount: '1.00', code: 'order', pending: true, metadata: { sessionId: session.id } } });
    expect(other.statusCode, other.body).toBe(201);
    const voided = await t.call({ method: 'POST', url: `/v1/transfers/${other.json().id}/void`, headers: { 'idempotency-key': `void-order-${org.id}` }, payload: {} });
    expect(voided.statusCode, voided.body).toBe(200);
  });

  it('restarts a session’s TTL when the switch says the call was answered (an update of 0 s), so that ringing does not use it up', async () => {
    const org = await organization('10.00');
    const session = (await authorize(org.id, '6591234567', 'rings-long')).json() as SessionJson;
    // 130 s of ringing, within the TTL of three 60 s intervals; then 170 s of talk before the
    // next update, 300 s after the authorize.
    await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 130 } });
    const answered = await update(session.id, 0);
    expect([answered.statusCode, answered.json().grantedSeconds, answered.json().charged]).toEqual([200, 60, '0.00']);
    await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 170 } });
    const talking = await update(session.id, 60);
    expect([talking.statusCode, talking.json().state, talking.json().charged]).toEqual([200, 'active', '0.021']);
    expect((await terminate(session.id, 61)).json().cost).toBe('0.042');
  });

  it('refuses a call whose price allows no time at all as unpriced, not as short of credit, leaving no live call', async () => {
    const capped = await t.call({ method: 'POST', url: '/v1/rate-decks?name=capped', payload: 'prefix,rate,connect_fee,max_cost,max_cost_strategy\n1,1,0.5,0.4,disconnect\n', headers: { 'content-type': 'text/csv' } });
    expect(capped.statusCode, capped.body).toBe(201);
    const org = await organization('10.00', { rateDeckId: capped.json().id });
    const refused = await authorize(org.id, '15551234567', 'no-time');
    // 0.5 to connect, over the 0.4 the deck caps a call at: no credit connects it.
    expect([refused.statusCode, refused.json().error.code], refused.body).toEqual([422, 'no_rate']);
    expect(refused.json().error.message).toContain('disconnect cap');
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions?organizationId=${org.id}` })).json().data).toEqual([]);
  });

  it('grants fewer seconds as credit runs out mid-call, then 0: disconnect', async () => {
    const org = await organization('0.10');
    // 6591234567: 0.021 a minute, 60/60.
    const session = (await authorize(org.id, '6591234567', 'long')).json() as SessionJson;
    expect(session.grantedSeconds).toBe(60);
    let used = 0;
    let granted = session.grantedSeconds;
    while (granted > 0) {
      used += granted;
      const next = (await update(session.id, used)).json() as SessionJson;
      granted = next.grantedSeconds;
    }
    // 0.10 pays for 4 minutes (0.084); a fifth would cost 0.105.
    expect(used).toBe(240);
    const ended = (await terminate(session.id, used)).json() as SessionJson;
    expect(ended.cost).toBe('0.084');
    expect((await credits(org.id)).usableCredits).toBe('0.016');
  });

  it('grants a postpaid organization’s calls from its credit limit minus its unbilled usage', async () => {
    const org = await organization('0', { paymentScheme: 'postpaid', creditLimit: { amount: '0.10' } });
    // 6591234567: 0.021 a minute, 60/60. The first call leaves 0.042 unbilled.
    const first = (await authorize(org.id, '6591234567', 'postpaid-1')).json() as SessionJson;
    expect((await update(first.id, 60)).json()).toMatchObject({ grantedSeconds: 60 });
    expect((await terminate(first.id, 120)).json()).toMatchObject({ cost: '0.042' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '0.058', expectingInvoice: '-0.042' });
    // The second is granted minute by minute until the limit is reached: 0.016 pays no third.
    const second = (await authorize(org.id, '6591234567', 'postpaid-2')).json() as SessionJson;
    expect(second.grantedSeconds).toBe(60);
    expect((await update(second.id, 60)).json()).toMatchObject({ grantedSeconds: 60 });
    // The minute the running call has posted is expecting invoice already, and counted once when it ends.
    expect(await credits(org.id)).toMatchObject({ expectingInvoice: '-0.063' });
    expect((await update(second.id, 120)).json()).toMatchObject({ grantedSeconds: 0 });
    expect((await terminate(second.id, 120)).json()).toMatchObject({ cost: '0.042' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '0.016', reservedCredits: '0.00', expectingInvoice: '-0.084' });
    expect((await authorize(org.id, '6591234567', 'postpaid-3')).statusCode).toBe(422);
  });

  it('shows credits that add up while calls end at the same time', async () => {
    const org = await organization('20.00');
    const micros = (text: string) => {
      const parsed = parseMicros(text);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value;
    };
    // What leaves the balance is expecting invoice, as a running call's posting or as the charge
    // of an ended one: their difference stays put whatever ends between two reads.
    const held = (view: { balance: string; expectingInvoice: string }) => micros(view.balance) - micros(view.expectingInvoice);
    const before = held(await credits(org.id));
    const calls = Array.from({ length: 12 }, async (_, index) => {
      const session = (await authorize(org.id, '6591234567', `adds-up-${index}`)).json() as SessionJson;
      await update(session.id, 60);
      await terminate(session.id, 90);
    });
    const views: { balance: string; expectingInvoice: string }[] = [];
    let done = false;
    const reading = (async () => {
      while (!done) {
        views.push(await credits(org.id));
        // In process, on PGlite, nothing here waits for I/O: the calls' batches need a turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(calls);
    done = true;
    await reading;
    views.push(await credits(org.id));
    expect(views.map(held).filter((value) => value !== before)).toEqual([]);
    expect(views.at(-1)).toMatchObject({ expectingInvoice: expect.stringMatching(/^-/) });
  });

  it('refuses a call it cannot pay the first second of, granting 0', async () => {
    const org = await organization('0.49');
    const refused = await authorize(org.id, '881812345678', 'satellite');
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: { code: 'insufficient_credit' }, grantedSeconds: 0 });
    expect((await authorize(org.id, '999', 'nowhere')).json().error.code).toBe('no_rate');
    expect((await credits(org.id)).usableCredits).toBe('0.49');
  });

  it('refuses every one of a refused call’s authorizes sent at once, granting 0, none a conflict', async () => {
    const org = await organization('0');
    const sent = await Promise.all([1, 2, 3, 4].map(() => authorize(org.id, '6591234567', 'sent-four-times')));
    expect(sent.map((response) => [response.statusCode, response.json().error?.code, response.json().grantedSeconds])).toEqual(Array(4).fill([422, 'insufficient_credit', 0]));
  });

  it('grants only what part of an interval the credit pays for', async () => {
    const org = await organization('0.05');
    // 447: 0.085 a minute, 30/6: 0.05 pays for 30 s (0.0425), and 31 s would bill 36 s (0.051).
    const session = (await authorize(org.id, '447700900123', 'partial', { intervalSeconds: 120 })).json() as SessionJson;
    expect(session).toMatchObject({ grantedSeconds: 30, reservedCredits: '0.0425' });
    expect((await terminate(session.id, 45)).json()).toMatchObject({ usedSeconds: 30, billedSeconds: 30, cost: '0.0425' });
  });

  it('ends a session the switch forgot after its TTL, charging the granted time (test clock)', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'forgotten')).json() as SessionJson;
    await update(session.id, 60);
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 179 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_sessions', handled: 0 });
    const later = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 } });
    expect(later.json().jobs).toContainEqual({ name: 'expire_sessions', handled: 1 });
    const expired = (await t.call({ method: 'GET', url: `/v1/charging/sessions/${session.id}` })).json() as SessionJson;
    expect(expired).toMatchObject({ state: 'ended', endReason: 'expired', usedSeconds: 120, cost: '0.042' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '4.958', reservedCredits: '0.00' });
  });

  it('still ends and charges a forgotten session when no job ran for hours (a server that was down)', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'down-for-hours')).json() as SessionJson;
    // The clock moves on with no job run on the way, as for a server stopped for two hours.
    t.clock.advanceSeconds(2 * 3600);
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 } });
    expect(advanced.json().jobs).toContainEqual({ name: 'expire_sessions', handled: 1 });
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions/${session.id}` })).json()).toMatchObject({ state: 'ended', endReason: 'expired', cost: '0.021' });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '4.979', reservedCredits: '0.00' });
  });

  it('leaves a session the expiry job found expired alone when an update has since given it a new grant', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'updated-in-time')).json() as SessionJson;
    // The job read it as expired a moment ago; the switch's update came in between.
    const ended = unwrap(await terminateSession(t.services, { sessionId: session.id, usedSeconds: 86_400, reason: 'expired' }));
    expect([ended.state, ended.endReason]).toEqual(['active', null]);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '4.979', reservedCredits: '0.021' });
    expect((await terminate(session.id, 30)).json()).toMatchObject({ cost: '0.021', billedSeconds: 60 });
  });

  it('takes a dozen updates and terminates of one call sent at once one after another, none failing', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'stormy')).json() as SessionJson;
    // Each step that loses a race to another starts again from the session it lost to: the last
    // of a dozen racing would lose eleven times.
    const updates = await Promise.all(Array.from({ length: 12 }, (_, i) => update(session.id, 4 * (i + 1))));
    expect(updates.map((step) => step.statusCode)).toEqual(Array.from({ length: 12 }, () => 200));
    const steps = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? terminate(session.id, 60) : update(session.id, 50 + i))));
    for (const step of steps) expect([[200, undefined], [409, 'session_ended']]).toContainEqual([step.statusCode, step.json().error?.code]);
    const ended = (await t.call({ method: 'GET', url: `/v1/charging/sessions/${session.id}` })).json() as SessionJson;
    expect(ended).toMatchObject({ state: 'ended', cost: '0.021', billedSeconds: 60 });
    expect(await credits(org.id)).toMatchObject({ usableCredits: '4.979', reservedCredits: '0.00' });
  });

  it('answers overloaded at once when the ledger cannot take a step, reading nothing more', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'refused-while-busy')).json() as SessionJson;
    let refused = false;
    let readsAfter = 0;
    const counted = new Proxy(t.database.db, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return (sql: string, params?: readonly unknown[]) => {
          if (refused) readsAfter++;
          return target.query(sql, params as never);
        };
      },
    });
    const ledger = Object.create(t.services.ledger, { execute: { value: async () => ((refused = true), failure('overloaded')) } }) as typeof t.services.ledger;
    const busy = { ...t.services, db: counted, ledger };
    const found = (await t.services.organizations.get(org.id))!.organization;
    expect(await authorizeSession(busy, { organization: found, destination: '6591234567', callId: 'refused-new' })).toMatchObject({ ok: false, code: 'overloaded' });
    expect(await updateSession(busy, { sessionId: session.id, usedSeconds: 60 })).toMatchObject({ ok: false, code: 'overloaded' });
    expect(await terminateSession(busy, { sessionId: session.id, usedSeconds: 60 })).toMatchObject({ ok: false, code: 'overloaded' });
    expect(readsAfter).toBe(0);
    // Nothing was done: the same steps, sent again, run.
    expect((await terminate(session.id, 60)).json()).toMatchObject({ state: 'ended', cost: '0.021' });
  });

  it('says which expired session it could not end, and ends it at a later run', async () => {
    const org = await organization('5.00');
    const session = (await authorize(org.id, '6591234567', 'expired-while-full')).json() as SessionJson;
    t.clock.advanceSeconds(180);
    const problems: Error[] = [];
    // A ledger whose queue is full refuses every command.
    const full = { ...t.services, ledger: { execute: async () => failure('overloaded') } } as unknown as typeof t.services;
    expect(await expireSessionsJob(full, (error) => problems.push(error)).run()).toBe(0);
    expect(problems.map((problem) => problem.message)).toEqual([`expired session ${session.id} could not be ended: overloaded: ${ERROR_CODES.overloaded.message}`]);
    // One that throws (a database error) is reported the same way, and does not stop the job.
    const broken = { ...t.services, ledger: { execute: () => Promise.reject(new Error('value out of range')) } } as unknown as typeof t.services;
    expect(await expireSessionsJob(broken, (error) => problems.push(error)).run()).toBe(0);
    expect(problems.at(-1)!.message).toBe(`expired session ${session.id} could not be ended: internal_error: value out of range`);
    expect(await expireSessionsJob(t.services).run()).toBeGreaterThanOrEqual(1);
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions/${session.id}` })).json()).toMatchObject({ state: 'ended', endReason: 'expired', cost: '0.021' });
  });

  it('measures an update’s grant from the seconds the switch reports, even past the last grant', async () => {
    const org = await organization('10.00');
    // London, 0.009 a minute billed per second: 60 s granted at a time.
    const session = (await authorize(org.id, '442071234567', 'ran-over')).json() as SessionJson;
    const late = (await update(session.id, 90)).json() as SessionJson;
    // Charged to the grant (60 s), the next interval held to 120 s: 30 s more from where the call is.
    expect(late).toMatchObject({ usedSeconds: 60, grantedTotalSeconds: 120, grantedSeconds: 30 });
    const past = (await update(session.id, 130)).json() as SessionJson;
    expect(past).toMatchObject({ grantedTotalSeconds: 180, grantedSeconds: 50 });
    expect((await terminate(session.id, 200)).json()).toMatchObject({ billedSeconds: 180, cost: '0.027' });
  });

  it('ends every call of a switch that went away, each charged its granted time, the credit all released', async () => {
    const orgs = await Promise.all(Array.from({ length: 5 }, () => organization('5.00')));
    const sessions = await Promise.all(orgs.flatMap((org, o) => Array.from({ length: 8 }, (_, i) => authorize(org.id, '6591234567', `crashed-${o}-${i}`))));
    const ids = sessions.map((response) => (response.json() as SessionJson).id);
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 180 } });
    expect(advanced.json().jobs.find((job: { name: string }) => job.name === 'expire_sessions').handled).toBeGreaterThanOrEqual(40);
    for (const id of ids) {
      expect((await t.call({ method: 'GET', url: `/v1/charging/sessions/${id}` })).json()).toMatchObject({ state: 'ended', endReason: 'expired', cost: '0.021', billedSeconds: 60 });
    }
    // Eight calls of one granted minute each: 8 x 0.021.
    for (const org of orgs) expect(await credits(org.id)).toMatchObject({ usableCredits: '4.832', reservedCredits: '0.00' });
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('never lets 100 concurrent 40-minute calls spend more than the credit', async () => {
    // 0.021 a minute: 5.00 pays for 238 call-minutes, far fewer than 100 calls x 40 minutes.
    const org = await organization('5.00');
    const sessions = await Promise.all(Array.from({ length: 100 }, (_, i) => authorize(org.id, '6591234567', `crowd-${i}`)));
    const live = sessions.filter((response) => response.statusCode === 201).map((response) => response.json() as SessionJson);
    const states = new Map(live.map((session) => [session.id, { used: 0, granted: session.grantedSeconds }]));
    for (let minute = 0; minute < 40; minute++) {
      await Promise.all(
        [...states].map(async ([id, state]) => {
          if (state.granted === 0) return;
          state.used += Math.min(60, state.granted);
          const next = (await update(id, state.used)).json() as SessionJson;
          state.granted = next.grantedSeconds;
        }),
      );
      const now = await credits(org.id);
      expect(Number(now.usableCredits)).toBeGreaterThanOrEqual(0);
    }
    const ended = await Promise.all([...states].map(([id, state]) => terminate(id, state.used)));
    const total = ended.reduce((sum, response) => sum + Math.round(Number(response.json().cost) * 1_000_000), 0);
    expect(total).toBeLessThanOrEqual(5_000_000);
    expect(total).toBeGreaterThan(4_900_000);
    const after = await credits(org.id);
    expect(after.reservedCredits).toBe('0.00');
    expect(Math.round(Number(after.usableCredits) * 1_000_000)).toBe(5_000_000 - total);
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  }, 240_000);

  it('never holds more than the credit when two API processes authorize one organization’s calls at once', async () => {
    const other = createServices(t.database.db, t.clock);
    // 1.00 pays for four first minutes at 0.22 (connect fee included); the 0.12 left does not buy
    // a fifth, billed in whole minutes.
    const org = await organization('1.00');
    const found = (await t.services.organizations.get(org.id))!.organization;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => authorizeSession(i % 2 ? other : t.services, { organization: found, destination: '2348031234567', callId: `two-processes-${i}` })),
    );
    const granted = results.filter((result) => result.ok).map((result) => unwrap(result).session);
    expect(results.filter((result) => !result.ok).every((result) => !result.ok && result.code === 'insufficient_credit')).toBe(true);
    const held = granted.reduce((sum, session) => sum + session.holdAmount, 0n);
    expect(held).toBeLessThanOrEqual(1_000_000n);
    expect(granted.map((session) => session.grantedSeconds)).toEqual([60, 60, 60, 60]);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '0.12', reservedCredits: '0.88' });
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('steps a session another process moved on from the database, not from its own stale copy', async () => {
    // A second API process on the same database: its own ledger and caches.
    const other = createServices(t.database.db, t.clock);
    const org = await organization('10.00');
    const session = (await authorize(org.id, '2348031234567', 'elsewhere-1')).json() as SessionJson;
    expect(unwrap(await updateSession(other, { sessionId: session.id, usedSeconds: 60 }))).toMatchObject({ usedSeconds: 60, version: 1 });
    // This process last wrote version 0; the step must go from version 1.
    const second = (await update(session.id, 120)).json() as SessionJson;
    expect(second).toMatchObject({ usedSeconds: 120, grantedTotalSeconds: 180, charged: '0.42', reservedCredits: '0.20' });
    expect(unwrap(await terminateSession(other, { sessionId: session.id, usedSeconds: 150 }))).toMatchObject({ cost: 620_000n, billedSeconds: 180 });
    expect((await terminate(session.id, 170)).json()).toMatchObject({ state: 'ended', cost: '0.62', usedSeconds: 150 });
    expect((await update(session.id, 180)).json().error.code).toBe('session_ended');
    expect(await credits(org.id)).toMatchObject({ usableCredits: '9.38', reservedCredits: '0.00' });
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });

  it('charges SMS, fax and activations once per event id, or refuses them', async () => {
    const org = await organization('5.36');
    const event = (payload: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/charging/events', payload: { organizationId: org.id, ...payload } });
    const sms = await event({ service: 'sms', destination: '6591234567', eventId: 'sms-1' });
    expect([sms.statusCode, sms.json().cost]).toEqual([201, '0.03']);
    // An event id a spreadsheet would run as a formula stays text in the export.
    expect((await event({ service: 'sms', destination: '6591234567', eventId: '=HYPERLINK("http://x")' })).statusCode).toBe(201);
    const again = await event({ service: 'sms', destination: '6591234567', eventId: 'sms-1' });
    expect([again.statusCode, again.json().id]).toEqual([200, sms.json().id]);
    // The id again with another quantity is another event under a used id: refused, not answered as charged.
    const reused = await event({ service: 'sms', destination: '6591234567', quantity: 2, eventId: 'sms-1' });
    expect([reused.statusCode, reused.json().error]).toEqual([409, { code: 'idempotency_conflict', message: 'event sms-1 was charged as 1 sms to 6591234567; this request asks for something else' }]);
    expect((await event({ service: 'fax', quantity: 3, eventId: 'fax-1' })).json()).toMatchObject({ cost: '0.30', quantity: 3 });
    expect((await event({ service: 'number_activation', eventId: 'num-1' })).json()).toMatchObject({ cost: '5.00' });
    const refused = await event({ service: 'number_activation', eventId: 'num-2' });
    expect([refused.statusCode, refused.json().error.code]).toEqual([422, 'insufficient_credit']);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '0.00', expectingInvoice: '-5.36' });
    const csv = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/usage?format=csv&service=sms` });
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[0]).toContain('destinationName');
    expect(csv.body).toContain('6591234567,Singapore');
    expect(csv.body).toContain(`"'=HYPERLINK(""http://x"")"`);
    const month13 = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/usage?billPeriod=2026-13` });
    expect([month13.statusCode, month13.json().error.code]).toEqual([400, 'invalid_input']);
    // Times the schema lets through but no Date or database holds; as CSV, still a JSON error, no download.
    for (const from of ['2026-06-30T23:59:60Z', '0000-01-01T00:00:00Z']) {
      const refused = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/usage?format=csv&from=${from}` });
      expect([refused.statusCode, refused.json().error.code, refused.headers['content-disposition']], from).toEqual([400, 'invalid_input', undefined]);
    }
  });

  it('answers events sent at once under one id with other quantities as if each came alone, when the first is refused', async () => {
    const org = await organization('0.25');
    // 0.10 a page: 3 pages are refused, and a refusal stores nothing; so one of 2 pages or 1 page
    // is charged, as if it had come alone, and the other is another event under an id now used.
    // Which comes first is the order they reach the ledger in.
    const sent = await Promise.all([3, 2, 1].map((quantity) => t.call({ method: 'POST', url: '/v1/charging/events', payload: { organizationId: org.id, service: 'fax', quantity, eventId: 'fax-at-once' } })));
    const answers = sent.map((response) => [response.statusCode, response.json().error?.code ?? response.json().cost]);
    const charged = answers.filter(([status]) => status === 201);
    expect(charged.length, JSON.stringify(answers)).toBe(1);
    expect(['0.20', '0.10']).toContain(charged[0]![1]);
    for (const answer of answers.filter(([status]) => status !== 201)) expect([[422, 'insufficient_credit'], [409, 'idempotency_conflict']]).toContainEqual(answer);
    expect((await credits(org.id)).usableCredits).toBe(charged[0]![1] === '0.20' ? '0.05' : '0.15');
  });

  it('refuses a call priced by a deck stored before blocks were bounded by a day, which no usage record could end', async () => {
    const deck = (await t.call({ method: 'POST', url: '/v1/rate-decks?name=legacy-blocks&effectiveFrom=2026-01-01T00:00:00Z', payload: 'prefix,rate,increments\n99,0.000001,1/1', headers: { 'content-type': 'text/csv' } })).json();
    await t.database.db.query('UPDATE rate_deck_rows SET next_increment = 2147483647 WHERE version_id = $1', [deck.versions[0].id]);
    const org = await organization('5.00', { rateDeckId: deck.id });
    const refused = await authorize(org.id, '991234', 'legacy-call');
    expect([refused.statusCode, refused.json().error.code, refused.json().error.message]).toEqual([422, 'no_rate', expect.stringContaining('import that deck again')]);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '5.00', reservedCredits: '0.00' });
  });

  it('refuses a callId first authorized to a free number when it comes again to a priced one, holding nothing', async () => {
    const org = await organization('5.00');
    const free = await authorize(org.id, '18005551234', 'free-then-priced');
    expect([free.statusCode, free.json().reservedCredits]).toEqual([201, '0.00']);
    // Its hold would be the first under the callId; the session's unique index finds the free one.
    const again = await authorize(org.id, '6591234567', 'free-then-priced');
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'idempotency_conflict']);
    expect(await credits(org.id)).toMatchObject({ usableCredits: '5.00', reservedCredits: '0.00' });
    expect((await authorize(org.id, '18005551234', 'free-then-priced')).json().id).toBe(free.json().id);
  });

  it('records a free event sent three times at once once, answering the others as replays', async () => {
    const deck = await t.call({ method: 'POST', url: '/v1/rate-decks?name=free-sms', payload: 'service,prefix,destination,rate\nsms,1800,Free SMS,0', headers: { 'content-type': 'text/csv' } });
    const org = await organization('0', { rateDeckId: deck.json().id });
    const sent = await Promise.all([1, 2, 3].map(() => t.call({ method: 'POST', url: '/v1/charging/events', payload: { organizationId: org.id, service: 'sms', destination: '1800123', eventId: 'free-1' } })));
    expect(sent.map((response) => response.statusCode).sort()).toEqual([200, 200, 201]);
    expect(new Set(sent.map((response) => response.json().id)).size).toBe(1);
  });

  it('raises balance.low once when usable credit falls to the threshold, and again after a top-up', async () => {
    const org = await organization('1.00', { lowCreditThreshold: '0.95' });
    const sms = (eventId: string) => t.call({ method: 'POST', url: '/v1/charging/events', payload: { organizationId: org.id, service: 'sms', destination: '447700900123', eventId } });
    const low = async () => (await listEvents(t.database.db, { type: 'balance.low', organizationId: org.id, limit: 10 })).length;
    await sms('a');
    expect(await low()).toBe(1);
    await sms('b');
    expect(await low()).toBe(1);
    // A top-up lifts it over the threshold; the next fall raises it again, once.
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `top-${org.id}` }, payload: { amount: '0.10', reason: 'top-up' } });
    await sms('c');
    expect(await low()).toBe(2);
    await sms('d');
    expect(await low()).toBe(2);
    const [event] = await listEvents(t.database.db, { type: 'balance.low', organizationId: org.id, limit: 1 });
    expect(event!.data).toEqual({ usableCredits: '0.95', threshold: '0.95', currency: 'SGD' });
  });

  it('grants a suspended organization’s calls no more time than is paid for', async () => {
    const org = await organization('5.00');
    // Singapore mobile: 0.021 a minute, billed 60/60.
    const session = (await authorize(org.id, '6591234567', 'suspended-1')).json() as SessionJson;
    expect(session.grantedSeconds).toBe(60);
    const suspended = await t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { status: 'suspended' } });
    expect(suspended.statusCode, suspended.body).toBe(200);
    // 30 s used: the first block is posted and paid; the call may finish it, no more is held.
    expect((await update(session.id, 30)).json()).toMatchObject({ grantedSeconds: 30, grantedTotalSeconds: 60, charged: '0.021', reservedCredits: '0.00' });
    expect((await update(session.id, 60)).json()).toMatchObject({ grantedSeconds: 0, charged: '0.021' });
    expect((await terminate(session.id, 60)).json()).toMatchObject({ cost: '0.021', billedSeconds: 60 });
    expect((await authorize(org.id, '6591234567', 'suspended-2')).json().error.code).toBe('organization_not_active');
    expect(await credits(org.id)).toMatchObject({ reservedCredits: '0.00' });
  });

  it('lists live calls oldest first, page by page, and each organization key only its own', async () => {
    const [a, b] = [await organization('5.00'), await organization('5.00')];
    const tick = () => t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 } });
    const a1 = (await authorize(a.id, '6591234567', 'live-a1')).json() as SessionJson;
    await tick();
    const b1 = (await authorize(b.id, '6591234567', 'live-b1')).json() as SessionJson;
    await tick();
    const a2 = (await authorize(a.id, '6591234567', 'live-a2')).json() as SessionJson;
    const list = async (query: string, key?: string) => {
      const response = await t.call({ method: 'GET', url: `/v1/charging/sessions${query}`, ...(key ? { key } : {}) });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { data: (SessionJson & { startedAt: string; endedAt: string | null })[]; nextCursor: string | null };
    };
    const first = await list(`?organizationId=${a.id}&limit=1`);
    expect(first.data.map((s) => s.id)).toEqual([a1.id]);
    const second = await list(`?organizationId=${a.id}&limit=1&cursor=${first.nextCursor}`);
    expect(second.data.map((s) => s.id)).toEqual([a2.id]);
    expect((await list(`?organizationId=${a.id}&limit=1&cursor=${second.nextCursor}`)).data).toEqual([]);
    // The operator sees every organization's, by start time.
    const all = (await list('?limit=200')).data.map((s) => s.id).filter((id) => [a1.id, b1.id, a2.id].includes(id));
    expect(all).toEqual([a1.id, b1.id, a2.id]);
    const key = (await t.call({ method: 'POST', url: `/v1/organizations/${b.id}/api-keys` })).json().key as string;
    expect((await list('', key)).data.map((s) => [s.id, s.reservedCredits])).toEqual([[b1.id, b1.reservedCredits]]);
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions?organizationId=${a.id}`, key })).statusCode).toBe(404);
    // An ended call leaves the list; it is in the usage now.
    const ended = (await terminate(a1.id, 30)).json();
    expect(ended.endedAt).not.toBeNull();
    expect((await list(`?organizationId=${a.id}`)).data.map((s) => s.id)).toEqual([a2.id]);
    // Not a cursor, or one made up with a time no database holds.
    const madeUp = Buffer.from(JSON.stringify(['-271821-04-20T00:00:00.000Z', 'x'])).toString('base64url');
    const withNul = Buffer.from(JSON.stringify(['2026-11-02T00:00:00.000Z', 'x\u0000'])).toString('base64url');
    for (const cursor of ['nonsense', madeUp, withNul]) {
      for (const url of [`/v1/charging/sessions?cursor=${cursor}`, `/v1/organizations/${a.id}/usage?cursor=${cursor}`]) {
        const bad = await t.call({ method: 'GET', url });
        expect([bad.statusCode, bad.json().error.code, bad.json().error.message], url).toEqual([400, 'invalid_input', expect.stringContaining('cursor')]);
      }
    }
  });

  it('keeps another organization’s sessions out of reach of an organization key', async () => {
    const mine = await organization('1.00');
    const theirs = await organization('1.00');
    const key = (await t.call({ method: 'POST', url: `/v1/organizations/${mine.id}/api-keys` })).json().key as string;
    const session = (await authorize(theirs.id, '6591234567', 'private')).json() as SessionJson;
    expect((await t.call({ method: 'GET', url: `/v1/charging/sessions/${session.id}`, key })).statusCode).toBe(404);
    expect((await t.call({ method: 'POST', url: `/v1/charging/sessions/${session.id}/terminate`, key, payload: { usedSeconds: 10 } })).statusCode).toBe(404);
    expect((await t.call({ method: 'POST', url: '/v1/charging/sessions', key, payload: { organizationId: theirs.id, destination: '659', callId: 'x' } })).statusCode).toBe(404);
    const own = await t.call({ method: 'POST', url: '/v1/charging/sessions', key, payload: { organizationId: mine.id, destination: '6591234567', callId: 'mine' } });
    expect(own.statusCode).toBe(201);
  });
});
