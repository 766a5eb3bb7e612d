import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchOrganizations } from '../../src/organizations/organization-store.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

describe(`organization search on ${testDatabaseKind}`, () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await openTestDatabase();
    // More matches of "common" than the trigram step gathers, so the ordered scan takes over.
    await test.db.query(
      `INSERT INTO organizations (id, wallet_id, name, currency, created_at)
       SELECT gen_random_uuid(), 'w' || g, CASE WHEN g % 500 = 0 THEN 'Rare Find ' || g ELSE 'Common ' || lpad(g::text, 5, '0') END, 'SGD', now()
       FROM generate_series(1, 1500) g`,
    );
  });

  afterAll(async () => {
    await test?.close();
  });

  it('pages through a fragment with more matches than the trigram step gathers, in name order', async () => {
    const first = await searchOrganizations(test.db, { by: 'name', fragment: 'COMMON' }, { limit: 3 });
    expect(first.map((row) => row.organization.name)).toEqual(['Common 00001', 'Common 00002', 'Common 00003']);
    const last = first.at(-1)!;
    const next = await searchOrganizations(test.db, { by: 'name', fragment: 'common' }, { after: { name: last.sortName, id: last.organization.id }, limit: 2 });
    expect(next.map((row) => row.organization.name)).toEqual(['Common 00004', 'Common 00005']);
  });

  it('finds a rare fragment through the trigram step, in name order', async () => {
    const found = await searchOrganizations(test.db, { by: 'name', fragment: 'are fin' }, { limit: 50 });
    expect(found.map((row) => row.organization.name)).toEqual(['Rare Find 1000', 'Rare Find 1500', 'Rare Find 500']);
  });

  it('treats % and _ in a fragment as themselves', async () => {
    expect(await searchOrganizations(test.db, { by: 'name', fragment: '%' }, { limit: 5 })).toEqual([]);
    expect(await searchOrganizations(test.db, { by: 'name', fragment: 'Common_0' }, { limit: 5 })).toEqual([]);
  });
});
