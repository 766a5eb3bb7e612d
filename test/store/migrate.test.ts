import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError } from '../../src/store/migrate.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

describe(`migrations on ${testDatabaseKind}`, () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await openTestDatabase({ migrated: true });
  });

  afterAll(async () => {
    await test?.close();
  });

  it('refuses a schema a newer Ringbill migrated, and changes nothing', async () => {
    expect(await migrate(test.db)).toEqual([]);
    const known = (await test.db.query<{ latest: number }>('SELECT max(version)::int AS latest FROM schema_migrations')).rows[0]!.latest;
    await test.db.query("INSERT INTO schema_migrations (version, name, md5, run_at) VALUES (999, 'from_the_future', 'x', now())");
    await expect(migrate(test.db)).rejects.toThrow(SchemaTooNewError);
    await expect(migrate(test.db)).rejects.toThrow(`the database's schema is at migration 999, newer than this Ringbill knows (${known})`);
  });
});
