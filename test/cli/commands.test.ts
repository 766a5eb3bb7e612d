import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchemaUrl, testDatabaseKind } from '../helpers/database.ts';
import { runCli } from '../helpers/process.ts';

describe(`the ringbill command on ${testDatabaseKind}`, () => {
  let dir: string;
  let schema: Awaited<ReturnType<typeof createTestSchemaUrl>>;
  let env: NodeJS.ProcessEnv;
  let db: string[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ringbill-cli-'));
    schema = await createTestSchemaUrl();
    // An explicit --data-dir would win over DATABASE_URL, so the server suite passes none.
    env = schema ? { DATABASE_URL: schema.url } : { RINGBILL_DATA_DIR: path.join(dir, 'data') };
    db = [];
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await schema?.drop();
  });

  it('migrates once, then finds the schema up to date', async () => {
    const first = await runCli(['migrate', ...db], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 1 foundation/);
    const second = await runCli(['migrate', ...db], env);
    expect(second.stdout).toContain('already up to date');
  });

  it('runs the due jobs once and verifies an empty ledger', async () => {
    const jobs = await runCli(['jobs', 'run', ...db], env);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.stdout).toContain('expire_holds: 0 handled');
    const verify = await runCli(['ledger', 'verify', '--json', ...db], env);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, problems: [] });
    // A server it cannot reach: one line saying where and why, not a stack, and never the password.
    const unreachable = await runCli(['jobs', 'run'], { DATABASE_URL: 'postgres://ringbill:secret@127.0.0.1:1/billing' });
    expect([unreachable.code, unreachable.stderr.trim()]).toEqual([1, expect.stringMatching(/^ringbill: cannot connect to the PostgreSQL server of DATABASE_URL \(127\.0\.0\.1:1\/billing\): .*ECONNREFUSED/)]);
    expect(unreachable.stderr).not.toContain('secret');
    // Verifying only reads: it does not install the schema in a database that has none.
    const fresh = path.join(dir, 'never-migrated');
    const empty = await runCli(['ledger', 'verify', '--data-dir', fresh], {});
    expect([empty.code, empty.stderr.trim()]).toEqual([2, `ringbill: embedded PostgreSQL (PGlite) in ${fresh} has no Ringbill ledger (run \`ringbill migrate\` to create one)`]);
  });

  it('creates, lists and revokes an operator key, and refuses a key for a missing organization', async () => {
    const created = await runCli(['api-keys', 'create', '--operator', '--name', 'ops', ...db], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^rb_op_\S{20,}\n$/);
    const listed = await runCli(['api-keys', 'list', ...db], env);
    const line = listed.stdout.split('\n').find((row) => row.includes('\tops\t'))!;
    expect(line).toMatch(/^key_\S+\trb_op_\S+…\toperator\tops\t\S+\tactive$/);
    const id = line.split('\t')[0]!;
    const last = await runCli(['api-keys', 'revoke', id, ...db], env);
    expect([last.code, last.stderr.trim()]).toEqual([2, 'ringbill: This is the last operator key that works: create another before revoking it.']);
    expect((await runCli(['api-keys', 'create', '--operator', ...db], env)).code).toBe(0);
    const revoked = await runCli(['api-keys', 'revoke', id, ...db], env);
    expect([revoked.code, revoked.stdout]).toEqual([0, expect.stringMatching(/^key_\S+ revoked at \S+\n$/)]);
    const missing = await runCli(['api-keys', 'create', '--organization', '00000000-0000-4000-8000-000000000000', ...db], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--organization: no organization');
    const neither = await runCli(['api-keys', 'create', ...db], env);
    expect(neither.code).toBe(2);
  });

  it('seeds the demo once and prints keys to log in with', async () => {
    const first = await runCli(['demo', ...db], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Operator: +rb_op_/);
    expect(first.stdout).toMatch(/Customer: +rb_org_\S+ sees Acme Pte Ltd only/);
    expect(first.stdout).toContain('Globex Trading (prepaid');
    const second = await runCli(['demo', ...db], env);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('seeded');
  });

  it('explains itself with --help and fails on an unknown command', async () => {
    for (const command of [[], ['serve'], ['ledger', 'verify']]) {
      const help = await runCli([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout).toContain('Usage: ringbill');
    }
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const badPort = await runCli(['serve', '--port', 'abc']);
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toContain('--port');
  });
});
