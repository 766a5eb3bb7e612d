import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestClock } from '../../src/clock/clock.ts';
import { unwrap } from '../../src/errors.ts';
import { createOrganization } from '../../src/organizations/create-organization.ts';
import { OrganizationCache } from '../../src/organizations/organization-cache.ts';
import { createServices, type Services } from '../../src/services.ts';
import type { Queryable, SqlValue } from '../../src/store/database.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

describe(`the charging path's organization cache on ${testDatabaseKind}`, () => {
  let test: TestDatabase;
  let services: Services;

  beforeAll(async () => {
    test = await openTestDatabase();
    services = createServices(test.db, new TestClock(new Date('2026-11-01T00:00:00Z')));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  afterAll(async () => {
    await test?.close();
  });

  it('reads an organization with its time zone and account ids in one statement', async () => {
    const organization = unwrap(await createOrganization(services, { name: 'Cached Pte Ltd', currency: 'SGD', actor: 'test' }));
    const statements: string[] = [];
    const counting: Queryable = Object.create(test.db, {
      query: { value: (sql: string, params?: readonly SqlValue[]) => (statements.push(sql), test.db.query(sql, params)) },
    }) as Queryable;
    const cached = await new OrganizationCache(counting).get(organization.id);
    expect(statements).toHaveLength(1);
    expect(cached).toMatchObject({ organization: { id: organization.id, paymentScheme: 'prepaid' }, timeZone: 'UTC' });
    expect(Object.keys(cached!.accountIds).sort()).toEqual(expect.arrayContaining(['credit', 'unbilled']));
    expect(cached!.spendingAccountId).toBe(cached!.accountIds.credit);
    expect(await new OrganizationCache(test.db).get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('reads the organizations asked for on one turn of the event loop in one statement', async () => {
    const organizations = await Promise.all(['North', 'South', 'East'].map(async (name) => unwrap(await createOrganization(services, { name: `${name} Pte Ltd`, currency: 'SGD', actor: 'test' }))));
    const statements: string[] = [];
    const counting: Queryable = Object.create(test.db, {
      query: { value: (sql: string, params?: readonly SqlValue[]) => (statements.push(sql), test.db.query(sql, params)) },
    }) as Queryable;
    const cache = new OrganizationCache(counting);
    const missing = '00000000-0000-4000-8000-000000000000';
    // A string that is no UUID must not fail its neighbours' read.
    const found = await Promise.all([
      ...organizations.map((organization) => cache.get(organization.id)),
      cache.get(organizations[0]!.id.toUpperCase()),
      cache.get(missing),
      cache.get('not-a-uuid'),
    ]);
    expect(statements).toHaveLength(1);
    expect(found.map((entry) => entry?.organization.name)).toEqual(['North Pte Ltd', 'South Pte Ltd', 'East Pte Ltd', 'North Pte Ltd', undefined, undefined]);
    expect(found[1]!.spendingAccountId).toBe(found[1]!.accountIds.credit);
    // Asked again within their time, they come from the cache.
    await Promise.all(organizations.map((organization) => cache.get(organization.id)));
    expect(statements).toHaveLength(1);
  });

  it('serves a stale entry once while it reads again, and never one older than twice its time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const organization = unwrap(await createOrganization(services, { name: 'Renamed Pte Ltd', currency: 'SGD', actor: 'test' }));
    const cache = new OrganizationCache(test.db);
    expect((await cache.get(organization.id))!.organization.name).toBe('Renamed Pte Ltd');
    await test.db.query(`UPDATE organizations SET name = 'Renamed Twice Pte Ltd' WHERE id = $1`, [organization.id]);
    vi.advanceTimersByTime(4_000);
    expect((await cache.get(organization.id))!.organization.name).toBe('Renamed Pte Ltd');
    vi.advanceTimersByTime(2_000);
    // Past its time: this answer is the old one, the refresh lands for the next.
    expect((await cache.get(organization.id))!.organization.name).toBe('Renamed Pte Ltd');
    await vi.waitFor(async () => expect((await cache.get(organization.id))!.organization.name).toBe('Renamed Twice Pte Ltd'));
    await test.db.query(`UPDATE organizations SET name = 'Renamed Thrice Pte Ltd' WHERE id = $1`, [organization.id]);
    vi.advanceTimersByTime(10_001);
    expect((await cache.get(organization.id))!.organization.name).toBe('Renamed Thrice Pte Ltd');
  });
});
