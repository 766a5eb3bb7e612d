import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../src/clock/clock.ts';
import { parseCurrency } from '../../src/money/index.ts';
import { parseRateDeck } from '../../src/rating/parse-rate-deck.ts';
import { storeRateDecks } from '../../src/rating/import-rate-deck.ts';
import { listDecks } from '../../src/rating/rate-deck-store.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

describe(`storing several decks on ${testDatabaseKind}`, () => {
  let database: TestDatabase;
  const clock = new TestClock(new Date('2026-11-02T00:00:00Z'));
  const parsed = parseRateDeck('prefix,rate\n65,0.01\n', clock.now());
  if (!parsed.ok) throw new Error('the test deck does not parse');
  const deck = (name: string, currency?: string) => ({ rows: parsed.rows, input: { name, ...(currency ? { currency: parseCurrency(currency)! } : {}) } });

  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('stores all of them or, one refused, none, naming the one refused', async () => {
    const deps = { db: database.db, clock };
    expect((await storeRateDecks(deps, [deck('Wholesale', 'USD')])).ok).toBe(true);
    // Refused before anything is written (a name), and inside the transaction (the existing
    // deck's currency), after the first deck was written: that one goes too.
    const longName = await storeRateDecks(deps, [deck('First'), deck('x'.repeat(101))]);
    expect(longName).toMatchObject({ ok: false, code: 'invalid_input', message: expect.stringMatching(/^x+: name must be 1 to 100 characters$/) });
    // Two names of one deck would make the second a new version replacing the first's prices.
    expect(await storeRateDecks(deps, [deck('RP RETAIL'), deck('RP  RETAIL')])).toMatchObject({ ok: false, code: 'invalid_input', message: 'RP  RETAIL: names the same deck as "RP RETAIL" (RP RETAIL)' });
    const otherCurrency = await storeRateDecks(deps, [deck('First', 'USD'), deck('Wholesale', 'EUR')]);
    expect(otherCurrency).toMatchObject({ ok: false, code: 'currency_mismatch', message: 'Wholesale: the deck "Wholesale" is in USD, not EUR' });
    expect((await listDecks(database.db)).map((stored) => stored.name)).toEqual(['Wholesale']);
    const both = await storeRateDecks(deps, [deck('First', 'USD'), deck('Wholesale', 'USD')]);
    expect(both.ok && both.value.map(({ deck: stored, version }) => [stored.name, version.version])).toEqual([
      ['First', 1],
      ['Wholesale', 2],
    ]);
  });
});
