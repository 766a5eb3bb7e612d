import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseLocationError, openDatabase, resolveDatabaseLocation } from '../../src/store/open-database.ts';

describe('the database location', () => {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'ringbill-location-')));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('follows a symbolic link to the data directory, made yet or not, and opens it there', async () => {
    mkdirSync(path.join(root, 'volume'));
    symlinkSync(path.join(root, 'volume'), path.join(root, 'link'));
    const location = resolveDatabaseLocation({ dataDir: path.join(root, 'link', 'data') }, {});
    expect(location).toEqual({ kind: 'pglite', dataDir: path.join(root, 'volume', 'data') });
    const opened = await openDatabase(location, 'test');
    await opened.close();
    // Made now: the link itself resolves.
    expect(resolveDatabaseLocation({}, { RINGBILL_DATA_DIR: path.join(root, 'link', 'data') })).toEqual(location);
  });

  it('keeps the data directory its owner’s alone, closing one made more open before', async () => {
    const made = path.join(root, 'made-now');
    const opened = await openDatabase(resolveDatabaseLocation({ dataDir: made }, {}), 'test');
    await opened.close();
    expect(statSync(made).mode & 0o777).toBe(0o700);
    const open = path.join(root, 'made-open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await (await openDatabase(resolveDatabaseLocation({ dataDir: open }, {}), 'test')).close();
    expect(statSync(open).mode & 0o777).toBe(0o700);
  });

  it('names a link to nothing (a volume not mounted) rather than failing inside the database', () => {
    symlinkSync(path.join(root, 'not-mounted'), path.join(root, 'dangling'));
    expect(() => resolveDatabaseLocation({ dataDir: path.join(root, 'dangling') }, {})).toThrow(new DatabaseLocationError(`${path.join(root, 'dangling')} is a symbolic link to ${path.join(root, 'not-mounted')}, which does not exist`));
  });
});
