import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../src/clock/clock.ts';
import { parseCurrency } from '../../src/money/index.ts';
import { parseRateDeck } from '../../src/rating/parse-rate-deck.ts';
import { storeRateDecks } from '../../src/rating/import-rate-deck.ts';
import { deleteStagedVersion, insertRows, insertStagedVersion, listDecks, listVersions, takeStaleStagedVersions } from '../../src/rating/rate-deck-store.ts';
import type { Database } from '../../src/store/database.ts';
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

  /** The database, with `onRows` called (and awaited) before each statement that writes deck rows. */
  const watched = (onRows: (count: number) => void | Promise<void>): Database => {
    let count = 0;
    return new Proxy(database.db, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return (sql: string, params?: readonly unknown[]) => {
          if (!sql.includes('INSERT INTO rate_deck_rows')) return target.query(sql, params as never);
          return Promise.resolve(onRows(++count)).then(() => target.query(sql, params as never));
        };
      },
    });
  };
  const staged = async () => (await database.db.query<{ count: number }>('SELECT count(*)::int AS count FROM rate_deck_versions WHERE deck_id IS NULL')).rows[0]!.count;
  const bigDeck = parseRateDeck(['prefix,rate', ...Array.from({ length: 3500 }, (_, index) => `${100_000 + index},0.01`)].join('\n'), clock.now());
  if (!bigDeck.ok) throw new Error('the big test deck does not parse');

  it('writes a big deck a chunk at a time, the event loop turning between chunks, and shows it only once its last row is in', async () => {
    let timerFired = false;
    const seen: { timerFired: boolean; staged: number; versions: number }[] = [];
    const retail = (await listDecks(database.db)).find((stored) => stored.name === 'First')!;
    const versionsBefore = (await listVersions(database.db, retail.id)).length;
    setTimeout(() => (timerFired = true), 0);
    const stored = await storeRateDecks({ db: watched(() => void seen.push({ timerFired, staged: 0, versions: 0 })), clock }, [{ rows: bigDeck.rows, input: { name: 'First' } }]);
    expect(stored.ok).toBe(true);
    expect(seen).toHaveLength(4);
    // A timer set before the import runs before its last chunk: the server answers meanwhile.
    expect(seen.at(-1)!.timerFired).toBe(true);
    expect(await staged()).toBe(0);
    expect((await listVersions(database.db, retail.id)).length).toBe(versionsBefore + 1);
  });

  it('keeps a deck being written out of the lists and lookups until it is whole', async () => {
    const retail = (await listDecks(database.db)).find((stored) => stored.name === 'First')!;
    const before = await listVersions(database.db, retail.id);
    const during: { staged: number; versions: number }[] = [];
    let pending: Promise<void> = Promise.resolve();
    const db = watched((count) => {
      if (count === 3) pending = (async () => void during.push({ staged: await staged(), versions: (await listVersions(database.db, retail.id)).length }))();
    });
    expect((await storeRateDecks({ db, clock }, [{ rows: bigDeck.rows, input: { name: 'First' } }])).ok).toBe(true);
    await pending;
    expect(during).toEqual([{ staged: 1, versions: before.length }]);
  });

  it('removes what an import that fails part way wrote, and changes no deck', async () => {
    const decksBefore = await listDecks(database.db);
    const rowsBefore = (await database.db.query<{ count: number }>('SELECT count(*)::int AS count FROM rate_deck_rows')).rows[0]!.count;
    const failing = watched((count) => {
      if (count === 3) throw new Error('the disk is full');
    });
    await expect(storeRateDecks({ db: failing, clock }, [{ rows: bigDeck.rows, input: { name: 'Broken' } }])).rejects.toThrow('the disk is full');
    expect(await staged()).toBe(0);
    expect((await database.db.query<{ count: number }>('SELECT count(*)::int AS count FROM rate_deck_rows')).rows[0]!.count).toBe(rowsBefore);
    expect(await listDecks(database.db)).toEqual(decksBefore);
  });

  it('removes a deck whose import has been silent for an hour, not one still being written, whatever the test clock says', async () => {
    const version = (id: string) => ({ id, effectiveFrom: clock.now(), rowCount: 1, source: 'an import', createdAt: clock.now() });
    for (const [id, silentMinutes] of [
      ['rdv_left_behind', 61],
      ['rdv_being_written', 10],
    ] as const) {
      await insertStagedVersion(database.db, version(id));
      await insertRows(database.db, id, parsed.rows);
      await database.db.query(`UPDATE rate_deck_versions SET staged_at = clock_timestamp() - $2 * interval '1 minute' WHERE id = $1`, [id, silentMinutes]);
    }
    // The test clock three hours on: an import it started is no older for that.
    const later = new TestClock(new Date(clock.now().getTime() + 3 * 60 * 60 * 1000));
    expect((await storeRateDecks({ db: database.db, clock: later }, [deck('Wholesale', 'USD')])).ok).toBe(true);
    const left = await database.db.query<{ id: string }>("SELECT DISTINCT version_id AS id FROM rate_deck_rows WHERE version_id IN ('rdv_left_behind', 'rdv_being_written')");
    expect(left.rows).toEqual([{ id: 'rdv_being_written' }]);
    expect((await database.db.query("SELECT id FROM rate_deck_versions WHERE id = 'rdv_left_behind'")).rows).toEqual([]);
    await deleteStagedVersion(database.db, 'rdv_being_written');
  });

  it('fails, activating nothing, an import whose staged rows were removed under it', async () => {
    const decksBefore = await listDecks(database.db);
    const removing = watched(async (count) => {
      // Another import takes this one for stopped (as if it had been silent for an hour).
      if (count !== 2) return;
      for (const id of await takeStaleStagedVersions(database.db, -60_000)) await deleteStagedVersion(database.db, id);
    });
    await expect(storeRateDecks({ db: removing, clock }, [{ rows: bigDeck.rows, input: { name: 'Removed' } }])).rejects.toThrow();
    expect(await listDecks(database.db)).toEqual(decksBefore);
    expect(await staged()).toBe(0);
    expect((await database.db.query<{ count: number }>("SELECT count(*)::int AS count FROM rate_deck_rows WHERE version_id NOT IN (SELECT id FROM rate_deck_versions WHERE deck_id IS NOT NULL)")).rows[0]!.count).toBe(0);
  });

  it('activates imports of the same decks sent at once, in any order, each default or not, without a deadlock', async () => {
    const deps = { db: database.db, clock };
    for (let round = 0; round < 8; round++) {
      const [a, b] = [`Pair A${round % 2}`, `Pair B${round % 2}`];
      const results = await Promise.all([
        storeRateDecks(deps, [{ rows: parsed.rows, input: { name: a, makeDefault: true } }, { rows: parsed.rows, input: { name: b } }]),
        storeRateDecks(deps, [{ rows: parsed.rows, input: { name: b, makeDefault: true } }, { rows: parsed.rows, input: { name: a } }]),
        storeRateDecks(deps, [{ rows: parsed.rows, input: { name: a } }]),
      ]);
      expect(results.map((result) => result.ok)).toEqual([true, true, true]);
    }
    for (const name of ['Pair A0', 'Pair B0', 'Pair A1', 'Pair B1']) {
      const decks = (await listDecks(database.db)).filter((stored) => stored.name === name);
      expect(decks).toHaveLength(1);
      expect((await listVersions(database.db, decks[0]!.id)).map((version) => version.version)).toEqual(Array.from({ length: name.startsWith('Pair A') ? 12 : 8 }, (_, index) => index + 1));
    }
    expect((await listDecks(database.db)).filter((stored) => stored.isDefault)).toHaveLength(1);
  });
});
