import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const DECK = readFileSync(new URL('../fixtures/rate-deck.csv', import.meta.url), 'utf8');

describe(`rate decks and quotes over HTTP on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let retail: { id: string };

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-11-02T10:00:00Z') });
  });

  afterAll(async () => {
    await t?.close();
  });

  const importDeck = (query: string, body: string) => t.call({ method: 'POST', url: `/v1/rate-decks?${query}`, payload: body, headers: { 'content-type': 'text/csv' } });
  const quote = (payload: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/rating/quote', payload });

  it('refuses a deck with bad rows, listing each with its line, and stores nothing', async () => {
    const response = await importDeck('name=broken', 'prefix,rate,increments\n44,0.01,60/60\n4x,0.01,60/60\n45,-1,60/60');
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({
      code: 'invalid_rate_deck',
      details: [
        { line: 3, field: 'prefix' },
        { line: 4, field: 'rate' },
      ],
    });
    expect((await t.call({ method: 'GET', url: '/v1/rate-decks' })).json().data).toEqual([]);
  });

  it('answers no_rate_deck until there is a default deck', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Early', currency: 'SGD' } })).json();
    const response = await quote({ organizationId: org.id, destination: '6591234567', seconds: 61 });
    expect([response.statusCode, response.json().error.code]).toEqual([422, 'no_rate_deck']);
  });

  it('imports versions, shows the row that applies and quotes without charging', async () => {
    const first = await importDeck('name=retail&default=true&effectiveFrom=2026-01-01T00:00:00Z', DECK);
    expect(first.statusCode, first.body).toBe(201);
    retail = first.json();
    expect(first.json()).toMatchObject({ name: 'retail', isDefault: true, currency: null, versions: [{ version: 1, rowCount: 20 }] });
    const lookup = (await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/lookup?number=%2B447700900123` })).json();
    expect(lookup).toMatchObject({ prefix: '447', destination: 'United Kingdom - Mobile', rows: [{ rate: '0.085', increments: '30/6', rounding: 'half_up:6' }] });
    const december = (await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/lookup?number=447700900123&at=2026-12-02T10:00:00Z` })).json();
    expect(december.rows[0].rate).toBe('0.08');

    const quoted = (await quote({ rateDeckId: retail.id, destination: '2348031234567', seconds: 361 })).json();
    expect(quoted).toMatchObject({ cost: '1.1725', currency: null, billedSeconds: 361, prefix: '2348', destination: 'Nigeria - Mobile' });
    expect((await quote({ rateDeckId: retail.id, service: 'fax', destination: '', quantity: 3 })).json()).toMatchObject({ cost: '0.3', billedQuantity: 3 });
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Quoted', currency: 'SGD' } })).json();
    expect((await quote({ organizationId: org.id, destination: '6591234567', seconds: 61 })).json()).toMatchObject({ cost: '0.042', currency: 'SGD', billedSeconds: 120 });
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/credits` })).json().usableCredits).toBe('0.00');
    expect((await quote({ organizationId: org.id, destination: '999', seconds: 61 })).json().error.code).toBe('no_rate');
    expect((await quote({ organizationId: org.id, destination: '659', quantity: 1 })).json().error.code).toBe('invalid_input');
    expect((await quote({ destination: '659', seconds: 1 })).json().error.code).toBe('invalid_input');
    // A call to no number has no price, not the empty prefix's.
    expect((await quote({ organizationId: org.id, destination: ' ', seconds: 1 })).json().error.code).toBe('no_rate');
    const both = await quote({ organizationId: org.id, destination: '6591234567', seconds: 61, quantity: 2 });
    expect([both.statusCode, both.json().error.message]).toEqual([400, 'a voice quote is for seconds, not a quantity']);
    expect((await quote({ organizationId: org.id, service: 'sms', destination: '6591234567', quantity: 2, seconds: 5 })).json().error.message).toBe('a quote for sms is for a quantity, not seconds');
  });

  it('a new version takes over from its effective date; an organization may have its own deck', async () => {
    const v2 = await importDeck('name=retail&effectiveFrom=2026-11-05T00:00:00Z', 'service,prefix,destination,rate,increments\nvoice,659,Singapore - Mobile,0.03,60/60');
    expect(v2.json().versions.map((version: { version: number }) => version.version)).toEqual([1, 2]);
    expect(v2.json().versions.map((version: { inForceUntil: string | null }) => version.inForceUntil)).toEqual(['2026-11-05T00:00:00.000Z', null]);
    const before = (await quote({ rateDeckId: retail.id, destination: '6591234567', seconds: 60, at: '2026-11-04T00:00:00Z' })).json();
    const after = (await quote({ rateDeckId: retail.id, destination: '6591234567', seconds: 60, at: '2026-11-06T00:00:00Z' })).json();
    expect([before.cost, after.cost]).toEqual(['0.021', '0.03']);
    // The new version replaces the whole deck from its date: what it does not price has no price.
    expect((await quote({ rateDeckId: retail.id, destination: '447700900123', seconds: 60, at: '2026-11-06T00:00:00Z' })).json().error.code).toBe('no_rate');

    const wholesale = (await importDeck('name=wholesale&currency=USD&effectiveFrom=2026-01-01T00:00:00Z', 'prefix,rate,increments\n65,0.01,1/1')).json();
    const sgd = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Own deck', currency: 'SGD', rateDeckId: wholesale.id } })).json();
    expect(sgd.rateDeckId).toBe(wholesale.id);
    expect((await quote({ organizationId: sgd.id, destination: '6591234567', seconds: 60 })).json().error.code).toBe('currency_mismatch');
    const usd = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Dollar', currency: 'USD', rateDeckId: wholesale.id } })).json();
    expect((await quote({ organizationId: usd.id, destination: '6591234567', seconds: 60 })).json()).toMatchObject({ cost: '0.01', currency: 'USD' });
    const missing = await t.call({ method: 'PATCH', url: `/v1/organizations/${usd.id}`, payload: { rateDeckId: 'rdk_nope' } });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'rate_deck_not_found']);
  });

  it('a version given no date comes into force with its earliest row: next month’s list leaves this month’s in force', async () => {
    const cost = async (at?: string) => (await quote({ rateDeckId: dated.id, destination: '4420', seconds: 60, ...(at ? { at } : {}) })).json().cost;
    const dated = (await importDeck('name=dated', 'prefix,rate,effective_from\n44,0.6,2026-01-01')).json();
    await importDeck('name=dated', 'prefix,rate,effective_from\n44,1.2,2027-01-01T00:00:00Z');
    const listed = (await t.call({ method: 'GET', url: `/v1/rate-decks/${dated.id}` })).json();
    expect(listed.versions.map((version: { effectiveFrom: string }) => version.effectiveFrom)).toEqual(['2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    expect([await cost(), await cost('2026-02-01T00:00:00Z'), await cost('2027-01-02T00:00:00Z')]).toEqual(['0.6', '0.6', '1.2']);
    // Rows without a date are in force from the import.
    await importDeck('name=dated', 'prefix,rate\n44,0.9');
    expect([await cost(), await cost('2026-02-01T00:00:00Z')]).toEqual(['0.9', '0.6']);
  });

  it('shows in a lookup when a row stops pricing, so that a promotion does not look like a lasting price', async () => {
    const promo = (await importDeck('name=promo&effectiveFrom=2026-01-01', 'prefix,rate,effective_from,effective_to\n43,0.10,2026-01-01,2030-01-01\n43,0.20,2030-01-01,\n')).json();
    const rows = (await t.call({ method: 'GET', url: `/v1/rate-decks/${promo.id}/lookup?number=4312345` })).json().rows;
    expect(rows.map((row: { rate: string; effectiveTo: string | null }) => [row.rate, row.effectiveTo])).toEqual([['0.1', '2030-01-01T00:00:00.000Z']]);
  });

  it('takes a bare date for a version as midnight UTC, as the CLI and deck rows do, and refuses a time without an offset', async () => {
    const dated = await importDeck('name=bare-date&effectiveFrom=2026-03-01', 'prefix,rate\n44,0.1');
    expect([dated.statusCode, dated.json().versions[0].effectiveFrom], dated.body).toEqual([201, '2026-03-01T00:00:00.000Z']);
    for (const bad of ['2026-03-01T00:00:00', '2026-02-30', 'tomorrow', '']) {
      const refused = await importDeck(`name=bare-date&effectiveFrom=${encodeURIComponent(bad)}`, 'prefix,rate\n44,0.2');
      expect([refused.statusCode, refused.json().error.code], bad).toEqual([400, 'invalid_input']);
    }
    expect((await t.call({ method: 'GET', url: `/v1/rate-decks/${dated.json().id}` })).json().versions).toHaveLength(1);
  });

  it('keeps a version effective from year 1 in year 1, so that a later version still takes over', async () => {
    const ancient = (await importDeck('name=ancient&effectiveFrom=0001-01-01T00:00:00Z', 'prefix,rate\n44,0.1')).json();
    expect(ancient.versions[0].effectiveFrom).toBe('0001-01-01T00:00:00.000Z');
    await importDeck('name=ancient&effectiveFrom=2000-01-01T00:00:00Z', 'prefix,rate\n44,0.2');
    // Imported last but dated before the version in force, a third prices only the years before it.
    const backdated = (await importDeck('name=ancient&effectiveFrom=1990-01-01T00:00:00Z', 'prefix,rate\n44,0.3')).json();
    expect(backdated.versions.map((version: { version: number; inForceUntil: string | null }) => [version.version, version.inForceUntil])).toEqual([
      [1, '1990-01-01T00:00:00.000Z'],
      [2, null],
      [3, '2000-01-01T00:00:00.000Z'],
    ]);
    expect((await quote({ rateDeckId: ancient.id, destination: '4420', seconds: 60, at: '1995-01-01T00:00:00Z' })).json().cost).toBe('0.3');
    expect((await quote({ rateDeckId: ancient.id, destination: '4420', seconds: 60 })).json().cost).toBe('0.2');
  });

  it('takes names that look the same for one deck, and refuses control characters in a name', async () => {
    const named = async (name: string) => (await importDeck(`name=${encodeURIComponent(name)}&effectiveFrom=2026-01-01T00:00:00Z`, 'prefix,rate\n44,0.1')).json();
    const first = await named('Café retail');
    const again = await named('Cafe\u0301\u00a0 retail ');
    expect([again.id, again.name, again.versions.length]).toEqual([first.id, 'Café retail', 2]);
    // Its download keeps the name: plain ASCII for old clients, the name itself for the rest.
    const exported = await t.call({ method: 'GET', url: `/v1/rate-decks/${first.id}/export` });
    expect(exported.headers['content-disposition']).toBe(`attachment; filename="Cafe_retail-v2.csv"; filename*=UTF-8''Caf%C3%A9%20retail-v2.csv`);
    const bell = await importDeck(`name=${encodeURIComponent('bad\u0007name')}`, 'prefix,rate\n44,0.1');
    expect([bell.statusCode, bell.json().error.code]).toEqual([400, 'invalid_input']);
  });

  it('exports a version as CSV that imports back as the same prices', async () => {
    // Version 1 is in force today (version 2 starts on the 5th): the default export.
    const exported = await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/export` });
    expect(exported.statusCode, exported.body).toBe(200);
    expect(exported.headers['content-type']).toContain('text/csv');
    expect(exported.headers['content-disposition']).toBe('attachment; filename="retail-v1.csv"');
    const lines = exported.body.trimEnd().split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[1]).toBe('voice,44,United Kingdom - Fixed,0,0.012,60,1/1,0,0,half_up,6,,,2026-01-01T00:00:00.000Z,');
    const copy = await importDeck('name=copy&effectiveFrom=2026-01-01T00:00:00Z', exported.body);
    expect(copy.statusCode, copy.body).toBe(201);
    const at = '2026-11-04T00:00:00Z';
    for (const [destination, seconds] of [['2348031234567', 361], ['447700900123', 61], ['6591234567', 1], ['1', 30]] as const) {
      const [original, copied] = [(await quote({ rateDeckId: retail.id, destination, seconds, at })).json(), (await quote({ rateDeckId: copy.json().id, destination, seconds, at })).json()];
      expect([copied.cost, copied.billedSeconds, copied.prefix], destination).toEqual([original.cost, original.billedSeconds, original.prefix]);
    }
    // The row dated December came along with its date: 66 s at 0.08 a minute.
    expect((await quote({ rateDeckId: copy.json().id, destination: '447700900123', seconds: 61, at: '2026-12-02T10:00:00Z' })).json().cost).toBe('0.088');
    const second = await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/export?version=2` });
    expect(second.body).toBe(`${lines[0]}\nvoice,659,Singapore - Mobile,0,0.03,60,60/60,0,0,half_up,6,,,2026-11-05T00:00:00.000Z,\n`);
    const missing = await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/export?version=3` });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'rate_deck_not_found']);
  });

  it('lets an organization download its own price list, from its deck or the default', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Price list', currency: 'SGD' } })).json();
    const key = (await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/api-keys` })).json().key as string;
    const rates = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/rates`, key });
    expect(rates.statusCode, rates.body).toBe(200);
    expect(rates.headers['content-disposition']).toBe(`attachment; filename="rates-${org.walletId}.csv"`);
    // The default deck's version in force today, the same file the operator's export gives.
    expect(rates.body).toBe((await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/export` })).body);
    const other = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Someone else', currency: 'SGD' } })).json();
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${other.id}/rates`, key })).statusCode).toBe(404);
    // A deck in another currency does not price it.
    const wholesale = (await t.call({ method: 'GET', url: '/v1/rate-decks' })).json().data.find((deck: { name: string }) => deck.name === 'wholesale');
    await t.call({ method: 'PATCH', url: `/v1/organizations/${org.id}`, payload: { rateDeckId: wholesale.id } });
    const mismatch = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/rates`, key });
    expect([mismatch.statusCode, mismatch.json().error.code]).toEqual([422, 'currency_mismatch']);
  });

  it('makes one deck the default when requests for two decks come at once, the last one winning', async () => {
    const [a, b] = [(await importDeck('name=race-a', DECK)).json(), (await importDeck('name=race-b', DECK)).json()];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, index) => t.call({ method: 'PATCH', url: `/v1/rate-decks/${index % 2 ? a.id : b.id}`, payload: { default: true } })));
    expect(answers.map((answer) => answer.statusCode), answers.find((answer) => answer.statusCode !== 200)?.body).toEqual(Array(20).fill(200));
    const defaults = (await t.call({ method: 'GET', url: '/v1/rate-decks' })).json().data.filter((deck: { isDefault: boolean }) => deck.isDefault);
    expect(defaults).toHaveLength(1);
    await t.call({ method: 'PATCH', url: `/v1/rate-decks/${retail.id}`, payload: { default: true } });
  });

  it('keeps deck management for the operator', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Customer', currency: 'SGD' } })).json();
    const key = (await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/api-keys` })).json().key as string;
    expect((await t.call({ method: 'GET', url: '/v1/rate-decks', key })).statusCode).toBe(403);
    expect((await t.call({ method: 'GET', url: `/v1/rate-decks/${retail.id}/export`, key })).statusCode).toBe(403);
    expect((await t.call({ method: 'POST', url: '/v1/rating/quote', key, payload: { organizationId: org.id, destination: '6591234567', seconds: 60 } })).statusCode).toBe(200);
  });
});
