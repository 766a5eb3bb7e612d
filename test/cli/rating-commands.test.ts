import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMicros, parseCurrency } from '../../src/money/index.ts';
import { quote } from '../../src/rating/quote.ts';
import { findDeckByName } from '../../src/rating/rate-deck-store.ts';
import { Rating } from '../../src/rating/rating.ts';
import { openDatabase, resolveDatabaseLocation } from '../../src/store/open-database.ts';
import { createTestSchemaUrl, testDatabaseKind } from '../helpers/database.ts';
import { runCli } from '../helpers/process.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/**
 * Voice quotes from the named deck in the database the commands wrote, at `at`: what the deck as
 * stored prices. The database is closed again before the next command opens it.
 */
async function quoteCalls(env: NodeJS.ProcessEnv, deck: string, calls: ReadonlyArray<readonly [string, number]>, at: Date) {
  const opened = await openDatabase(resolveDatabaseLocation({}, env), 'test quotes');
  try {
    const stored = await findDeckByName(opened.db, deck);
    if (!stored) throw new Error(`no deck named ${deck}`);
    const rating = new Rating(opened.db);
    const quotes = [];
    for (const [destination, seconds] of calls) {
      const quoted = await quote(rating, { deckId: stored.id, service: 'voice', destination, seconds, at });
      if (!quoted.ok) throw new Error(`${destination}: ${quoted.message}`);
      quotes.push({ destination, seconds, prefix: quoted.value.prefix, billed: quoted.value.billed, cost: formatMicros(quoted.value.cost, parseCurrency('SGD')!) });
    }
    return quotes;
  } finally {
    await opened.close();
  }
}

describe(`rates and CDRs on the command line, on ${testDatabaseKind}`, () => {
  let dir: string;
  let schema: Awaited<ReturnType<typeof createTestSchemaUrl>>;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ringbill-rates-'));
    schema = await createTestSchemaUrl();
    env = schema ? { DATABASE_URL: schema.url } : { RINGBILL_DATA_DIR: path.join(dir, 'data') };
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await schema?.drop();
  });

  it('refuses a deck with bad rows, naming file, line and field, and imports nothing', async () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'prefix,rate,increments\n44,0.01,60/60\n4x,0.01,60/60\n45,0.01,sixty\n');
    const result = await runCli(['rates', 'import', bad, '--name', 'retail'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${bad}:3: prefix`);
    expect(result.stderr).toContain(`${bad}:4: increments`);
    // A date the import would read in the machine's own time zone, or move to March, is refused;
    // so is an empty one (an unset variable), which would have put the prices in force at once.
    for (const date of ['2026-12-01T00:00:00', '2026-02-30', '', '9999-12-31T23:30:00-05:00']) {
      const dated = await runCli(['rates', 'import', fixture('rate-deck.csv'), '--name', 'retail', '--effective-from', date], env);
      expect([dated.code, dated.stderr.trim()]).toEqual([2, `ringbill: --effective-from: "${date}" is not an ISO 8601 date or time with an offset (2026-12-01, 2026-12-01T00:00:00+08:00), from year 1 to 9999 in UTC`]);
    }
    const folder = await runCli(['cdrs', 'rate', dir, '--format', 'ringbill'], env);
    expect([folder.code, folder.stderr.trim()]).toEqual([2, `ringbill: ${dir}: not a file`]);
  });

  it('imports decks, CGRateS plans, and rates CDR files once, exiting 2 when lines are rejected', async () => {
    const deck = await runCli(['rates', 'import', fixture('rate-deck.csv'), '--name', 'retail', '--effective-from', '2026-01-01T00:00:00Z', '--default'], env);
    expect(deck.code, deck.stderr).toBe(0);
    expect(deck.stdout).toMatch(/retail: version 1 .*20 rows.*the default deck/);
    // A version dated before the one in force says that it prices only the calls before that one.
    const backdated = await runCli(['rates', 'import', fixture('rate-deck.csv'), '--name', 'retail', '--effective-from', '2025-06-01'], env);
    expect(backdated.stdout).toContain('in force from 2025-06-01T00:00:00.000Z until 2026-01-01T00:00:00.000Z, when version 1 takes over (it prices only calls before then;');
    const exported = path.join(dir, 'retail-export.csv');
    const exportRun = await runCli(['rates', 'export', 'retail', '--output', exported], env);
    expect(exportRun.code, exportRun.stderr).toBe(0);
    expect(readFileSync(exported, 'utf8').trimEnd().split('\n')).toHaveLength(21);
    const copy = await runCli(['rates', 'import', exported, '--name', 'retail-copy'], env);
    expect(copy.stdout).toMatch(/retail-copy: version 1 .*20 rows/);
    const unknown = await runCli(['rates', 'export', 'wholesale'], env);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([2, 'ringbill: no rate deck is named "wholesale"']);
    const cgrates = await runCli(['rates', 'import-cgrates', fixture('cgrates-tp')], env);
    expect(cgrates.code, cgrates.stderr).toBe(0);
    expect(cgrates.stdout).toContain('RP_RETAIL: version 1');
    // The calls the samples README prices with the CGRateS plan, priced by the deck just imported.
    expect(
      await quoteCalls(
        env,
        'RP_RETAIL',
        [
          ['6591234567', 61],
          ['447700900123', 61],
          ['4930123456', 1800],
          ['4930123456', 3600],
        ],
        new Date('2026-11-02T12:00:00Z'),
      ),
    ).toEqual([
      { destination: '6591234567', seconds: 61, prefix: '659', billed: 120, cost: '0.042' },
      // Connect 0.01, a 30 s block, then 6 s blocks from 30 s: 66 s at 0.085 a minute.
      { destination: '447700900123', seconds: 61, prefix: '447', billed: 66, cost: '0.1035' },
      { destination: '4930123456', seconds: 1800, prefix: '49', billed: 1800, cost: '0.33' },
      // 0.66, capped by MaxCost 0.50 *free.
      { destination: '4930123456', seconds: 3600, prefix: '49', billed: 3600, cost: '0.50' },
    ]);
    const demo = await runCli(['demo'], env);
    expect(demo.code, demo.stderr).toBe(0);

    const args = ['cdrs', 'rate', fixture('asterisk-Master.csv'), '--format', 'asterisk', '--timezone', 'UTC'];
    const first = await runCli(args, env);
    expect(first.code).toBe(2);
    expect(first.stdout).toContain('asterisk-Master.csv:10: rejected: no organization has the account code or wallet ID "NOSUCH"');
    expect(first.stdout).toContain('11 lines: 6 rated, 2 skipped (unanswered), 2 rejected, 1 duplicates');
    expect(first.stdout).toContain('charged 1.466333 SGD for 6 records');
    const second = await runCli([...args, '--json'], env);
    expect(JSON.parse(second.stdout)).toMatchObject({ rated: 0, duplicates: 7, totals: [] });
    // The same file piped in: every record is known by its content, not by the file's name.
    const piped = await runCli(['cdrs', 'rate', '-', '--format', 'asterisk', '--timezone', 'UTC'], env, readFileSync(fixture('asterisk-Master.csv'), 'utf8'));
    expect(piped.stdout).toContain('stdin:10: rejected: no organization has the account code or wallet ID "NOSUCH"');
    expect(piped.stdout).toContain('11 lines: 0 rated, 2 skipped (unanswered), 2 rejected, 7 duplicates');
    // The report names the first 1,000 lines not rated, and says how many more there were.
    const bad = ['account_code,destination,started_at,billed_seconds', ...Array.from({ length: 1002 }, (_, i) => `NOSUCH,6591234567,2026-11-02T00:${String(i % 60).padStart(2, '0')}:00Z,${i + 1}`)].join('\n');
    const many = await runCli(['cdrs', 'rate', '-', '--format', 'ringbill', '--dry-run'], env, bad);
    expect(many.stdout).toContain('stdin:1001: rejected:');
    expect(many.stdout).not.toContain('stdin:1002:');
    expect(many.stdout).toContain('... and 2 more lines not rated (only the first 1000 are named)');
    const verify = await runCli(['ledger', 'verify'], env);
    expect(verify.code, verify.stdout).toBe(0);
  }, 120_000);
});
