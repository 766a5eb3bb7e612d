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

  it('starts an install that ran migration 005 as it read before it was put back as shipped, and refuses any other text', async () => {
    await test.db.query("UPDATE schema_migrations SET md5 = '408214a8876462abc852379ba607d57a' WHERE version = 5");
    expect(await migrate(test.db)).toEqual([]);
    const repaired = await test.db.query<{ md5: string }>('SELECT md5 FROM schema_migrations WHERE version = 5');
    expect(repaired.rows[0]!.md5).toBe('f07ea52167e7c096c05b1aa0bd743861');
    await test.db.query("UPDATE schema_migrations SET md5 = '00000000000000000000000000000000' WHERE version = 5");
    await expect(migrate(test.db)).rejects.toThrow('MD5 checksum failed for migration [5]');
    await test.db.query("UPDATE schema_migrations SET md5 = 'f07ea52167e7c096c05b1aa0bd743861' WHERE version = 5");
  });

  it('lists an environment key seeded by an old version by a fingerprint, not by its first characters (008)', async () => {
    await test.db.query(
      "INSERT INTO api_keys (id, secret_hash, prefix, role, name, created_at) VALUES ('key_environment', 'ab12cd34ef56aa', 'Sup3rS3cretKey', 'operator', 'RINGBILL_OPERATOR_KEY', now())",
    );
    // An install at migration 7 (the later ones may run again).
    await test.db.query('DELETE FROM schema_migrations WHERE version >= 8');
    expect((await migrate(test.db)).map((applied) => applied.version)).toEqual([8, 9]);
    expect((await test.db.query<{ prefix: string }>("SELECT prefix FROM api_keys WHERE id = 'key_environment'")).rows[0]!.prefix).toBe('env:ab12cd34');
  });

  it('refuses a schema a newer Ringbill migrated, and changes nothing', async () => {
    expect(await migrate(test.db)).toEqual([]);
    const known = (await test.db.query<{ latest: number }>('SELECT max(version)::int AS latest FROM schema_migrations')).rows[0]!.latest;
    await test.db.query("INSERT INTO schema_migrations (version, name, md5, run_at) VALUES (999, 'from_the_future', 'x', now())");
    await expect(migrate(test.db)).rejects.toThrow(SchemaTooNewError);
    await expect(migrate(test.db)).rejects.toThrow(`the database's schema is at migration 999, newer than this Ringbill knows (${known})`);
  });
});
