import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock/clock.ts';
import { unwrap } from '../../src/errors.ts';
import { CompiledDeck } from '../../src/rating/compiled-deck.ts';
import { importRateDeck } from '../../src/rating/import-rate-deck.ts';
import { loadCompiledDeck, loadRows } from '../../src/rating/rate-deck-store.ts';
import { createServices } from '../../src/services.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

describe('a compiled deck loaded a page at a time', () => {
  let test: TestDatabase;
  let versionId: string;
  const prefixes: string[] = [];

  beforeAll(async () => {
    test = await openTestDatabase();
    const lines = ['prefix,destination,rate,increments,connect_fee'];
    for (let i = 0; i < 40; i++) {
      const prefix = `${65 + (i % 7)}${String(i).padStart(i % 3 === 0 ? 1 : 3, '0')}`;
      if (prefixes.includes(prefix)) continue;
      prefixes.push(prefix);
      // Destinations with commas and quotes cross page boundaries too.
      lines.push(`${prefix},"Place ${i}, ""quoted""${i % 5 === 0 ? ' and more' : ''}",0.0${i % 10}${i},${i % 2 ? '60/60' : '30/6'},${i % 4 === 0 ? '0.01' : '0'}`);
    }
    const services = createServices(test.db, systemClock);
    const imported = unwrap(await importRateDeck(services, lines.join('\n'), { name: 'pages', effectiveFrom: new Date('2026-01-01T00:00:00Z'), makeDefault: true }));
    versionId = imported.version.id;
  });
  afterAll(async () => {
    await test.close();
  });

  it('finds the plans the deck of all its rows finds, whatever the page size', async () => {
    const reference = new CompiledDeck(await loadRows(test.db, versionId));
    const at = new Date('2026-06-01T00:00:00Z');
    for (const prefix of prefixes) expect(reference.plan('voice', `${prefix}99`, at)?.prefix).toBe(prefix);
    const numbers = prefixes.flatMap((prefix) => [prefix, `${prefix}1234567`, prefix.slice(0, -1)]);
    for (const pageSize of [1, 3, 7, 39, 40, 1000]) {
      const deck = await loadCompiledDeck(test.db, versionId, pageSize);
      for (const number of numbers) expect(deck.plan('voice', number, at)).toEqual(reference.plan('voice', number, at));
    }
  });
});
