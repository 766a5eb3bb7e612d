import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raisedSince } from '../../src/notifications/events.ts';
import type { SqlValue } from '../../src/store/database.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

const ORGANIZATIONS = 200;
const EVENTS = 20_000;
const org = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe(`events on ${testDatabaseKind}`, () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await openTestDatabase();
    await test.db.query(
      `INSERT INTO organizations (id, name, currency, wallet_id, created_at)
       SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Org ' || i, 'SGD', 'bulk-' || i, now() FROM generate_series(1, $1::int) AS i`,
      [ORGANIZATIONS],
    );
    // An event a minute, a hundred per organization, spread over two weeks.
    await test.db.query(
      `INSERT INTO events (id, type, organization_id, data, created_at)
       SELECT 'evt_bulk_' || lpad(i::text, 7, '0'), 'balance.low', ('00000000-0000-4000-8000-' || lpad((1 + i % $1)::text, 12, '0'))::uuid, '{}',
         timestamptz '2026-10-01T00:00:00Z' + i * interval '1 minute'
       FROM generate_series(1, $2::int) AS i`,
      [ORGANIZATIONS, EVENTS],
    );
    await test.db.exec('ANALYZE events');
  });

  afterAll(async () => {
    await test?.close();
  });

  it('tells whether an event was raised for an organization since an instant', async () => {
    // Organization 7's events fall at minutes 6, 206, ... (i % 200 = 6); its last at minute 19,806.
    const last = new Date(Date.parse('2026-10-01T00:00:00Z') + 19_806 * 60_000);
    expect(await raisedSince(test.db, 'balance.low', org(7), last)).toBe(true);
    expect(await raisedSince(test.db, 'balance.low', org(7), new Date(last.getTime() + 1))).toBe(false);
    expect(await raisedSince(test.db, 'balance.low', org(ORGANIZATIONS + 1), new Date('2026-01-01T00:00:00Z'))).toBe(false);
  });

  it('reads one organization’s events by index, not the whole table', async () => {
    // The statement raisedSince sends, captured rather than written out again here.
    let sent: { sql: string; params: readonly SqlValue[] } | undefined;
    await raisedSince({ query: async (sql: string, params: readonly SqlValue[] = []) => ((sent = { sql, params }), { rows: [], affectedRows: 0 }) } as never, 'balance.low', org(7), new Date('2026-11-01T00:00:00Z'));
    const plan = await test.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sent!.sql}`, sent!.params);
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toContain('events_by_organization');
    expect(text).not.toMatch(/Seq Scan on events/);
  });
});
