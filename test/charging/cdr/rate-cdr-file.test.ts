import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateCdrFile } from '../../../src/charging/cdr/rate-cdr-file.ts';
import { verifyLedger } from '../../../src/ledger/verify-ledger.ts';
import { testDatabaseKind } from '../../helpers/database.ts';
import { importDefaultDeck, startTestApp, type TestApp } from '../../helpers/app.ts';

const DECK = 'prefix,destination,rate,increments\n65,Singapore,0.06,60/60\n44,,0.12,1/1\n800,Toll free,0,60/60\n';

/** Asterisk lines: [account code, number, start, billsec, uniqueid], each ended by a line break as Asterisk writes them. */
function asterisk(lines: readonly [string, string, string, number, string][]): string {
  return lines
    .map(([code, number, start, billsec, id]) => `"${code}","6531230001","${number}","from-internal","""Desk"" <6531230001>","PJSIP/101-1","PJSIP/trunk-2","Dial","PJSIP/${number}@trunk,60","${start}","${start}","${start}",${billsec + 5},${billsec},"ANSWERED","DOCUMENTATION","${id}",""\n`)
    .join('');
}

describe.each(['here', 'worker'] as const)(`rating a CDR file in several chunks on ${testDatabaseKind}, priced %s`, (pricing) => {
  let t: TestApp;
  const rate = (text: string, chunkSize = 3) => rateCdrFile(t.services, Readable.from([text]), { format: 'asterisk', timeZone: 'UTC', fileName: 'Master.csv', chunkSize, pricing });

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-12-10T00:00:00Z') });
    const deck = await importDefaultDeck(t, DECK);
    expect(deck.statusCode, deck.body).toBe(201);
    for (const [code, balance] of [
      ['RICH', '100.00'],
      ['TIGHT', '0.25'],
    ] as const) {
      const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: code, currency: 'SGD', accountCode: code } })).json();
      await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${code}` }, payload: { amount: balance, reason: 'credit' } });
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  it('charges each record once across chunks, with repeats found in later chunks and in the database', async () => {
    const calls: [string, string, string, number, string][] = [
      ['RICH', '6591234567', '2026-11-02 09:00:00', 61, 'a1'],
      ['RICH', '447700900123', '2026-11-02 09:01:00', 10, 'a2'],
      ['RICH', '6591234567', '2026-11-02 09:02:00', 5, 'a3'],
      // Next chunk: a repeat of the first chunk's record, then a repeat within the chunk.
      ['RICH', '6591234567', '2026-11-02 09:00:00', 61, 'a1'],
      ['RICH', '6591234567', '2026-11-02 09:03:00', 30, 'a4'],
      ['RICH', '6591234567', '2026-11-02 09:03:00', 30, 'a4'],
      ['RICH', '3312345678', '2026-11-02 09:04:00', 30, 'a5'],
      ['RICH', '447700900123', '2026-12-01 09:04:00', 0, 'a6'],
    ];
    // A dry run first, which stores nothing: it must find the repeat of an earlier chunk itself.
    const dry = await rateCdrFile(t.services, Readable.from([asterisk(calls)]), { format: 'asterisk', timeZone: 'UTC', chunkSize: 3, pricing, dryRun: true });
    expect(dry).toMatchObject({ rated: 4, duplicates: 2, totals: [{ amount: 260_000n, records: 4 }] });
    const report = await rate(asterisk(calls));
    expect(report).toMatchObject({ lines: 8, rated: 4, skipped: 1, rejected: 1, duplicates: 2, totals: [{ currency: 'SGD', amount: 260_000n, records: 4 }] });
    expect(report.problems).toEqual([
      // Found stored, or (on a server, which stores two chunks at once) in the chunk still being stored.
      { line: 4, outcome: 'duplicate', reason: expect.stringMatching(/^record a1 (was rated before \(in this file or an earlier one\)|appears earlier in this file)$/) },
      { line: 6, outcome: 'duplicate', reason: 'record a4 appears earlier in this file' },
      { line: 7, outcome: 'rejected', reason: 'the rate deck "retail" has no voice price for "3312345678"' },
    ]);
    // Again, with a new record at the end: only that one is charged.
    const again = await rate(asterisk([...calls, ['RICH', '6591234567', '2026-11-03 09:00:00', 60, 'a7']]));
    expect(again).toMatchObject({ rated: 1, duplicates: 6, rejected: 1, totals: [{ amount: 60_000n, records: 1 }] });
    expect(again.problems.filter((problem) => problem.outcome === 'duplicate').map((problem) => problem.line)).toEqual([1, 2, 3, 4, 5, 6]);
    const usage = (await t.services.db.query<{ external_id: string; destination_name: string; charge_id: string | null; cost: bigint }>("SELECT external_id, destination_name, charge_id, cost FROM usage_records WHERE source = 'cdr' ORDER BY external_id")).rows;
    expect(usage.map((row) => [row.external_id, row.destination_name, row.cost, row.charge_id === null])).toEqual([
      ['a1', 'Singapore', 120_000n, false],
      ['a2', '', 20_000n, false],
      ['a3', 'Singapore', 60_000n, false],
      ['a4', 'Singapore', 60_000n, false],
      ['a7', 'Singapore', 60_000n, false],
    ]);
  });

  it('takes a 17th and last field for the uniqueid only when it looks like one, not a userfield', async () => {
    const line = (start: string, last: string) => `"RICH","6531230001","6591234567","from-internal","","PJSIP/101-1","PJSIP/trunk-2","Dial","","${start}","${start}","${start}",65,60,"ANSWERED","DOCUMENTATION","${last}"`;
    // loguserfield on, loguniqueid off: the dialplan's userfield is the same on every call.
    const userfield = await rate([line('2026-11-05 09:00:00', 'sales'), line('2026-11-05 09:05:00', 'sales'), ''].join('\n'));
    expect(userfield).toMatchObject({ rated: 2, duplicates: 0 });
    const uniqueIds = await rate([line('2026-11-05 10:00:00', '1762336800.7'), line('2026-11-05 10:00:00', 'pbx1-1762336800.8'), ''].join('\n'));
    expect(uniqueIds).toMatchObject({ rated: 2, duplicates: 0 });
    const stored = await t.services.db.query<{ external_id: string }>("SELECT external_id FROM usage_records WHERE source = 'cdr' AND external_id LIKE '%1762336800%' ORDER BY external_id");
    expect(stored.rows.map((row) => row.external_id)).toEqual(['1762336800.7', 'pbx1-1762336800.8']);
  });

  it('refuses, line by line, a start whose bill period no column keeps and a billsec no call has, rating the good lines', async () => {
    const line = (start: string, duration: number | string, billsec: number, id: string) =>
      `"RICH","6531230001","6591234567","from-internal","","PJSIP/101-1","PJSIP/trunk-2","Dial","","${start}","${start}","${start}",${duration},${billsec},"ANSWERED","DOCUMENTATION","${id}",""`;
    const file = [
      line('2026-11-06 09:00:00', 65, 60, 'r1'),
      // Year 10000 in UTC from New York.
      line('9999-12-31 23:30:00', 65, 60, 'r2'),
      line('2026-11-06 09:01:00', 500_000_005, 500_000_000, 'r3'),
      line('2026-11-06 09:02:00', 30, 60, 'r4'),
      // Some switches leave the duration empty: the billsec is then taken as it is.
      line('2026-11-06 09:03:00', '', 60, 'r5'),
      '',
    ].join('\n');
    const report = await rateCdrFile(t.services, Readable.from([file]), { format: 'asterisk', timeZone: 'America/New_York', chunkSize: 3, pricing });
    expect(report).toMatchObject({ lines: 5, rated: 2, rejected: 3, totals: [{ currency: 'SGD', amount: 120_000n, records: 2 }] });
    expect(report.problems).toEqual([
      { line: 2, outcome: 'rejected', reason: 'malformed: start "9999-12-31 23:30:00" is not a time from 0001-01-02 to 9999-12-30 in UTC' },
      { line: 3, outcome: 'rejected', reason: 'malformed: billsec 500000000 is longer than a call lasts (at most 86400 s)' },
      { line: 4, outcome: 'rejected', reason: 'malformed: billsec 60 is more than the call\'s duration 30' },
    ]);
  });

  it('refuses a line whose billed seconds no usage record holds, from a deck stored before blocks were bounded', async () => {
    const deck = (await t.call({ method: 'POST', url: '/v1/rate-decks?name=legacy&effectiveFrom=2026-01-01T00:00:00Z', payload: 'prefix,rate,increments\n99,0.000001,1/1', headers: { 'content-type': 'text/csv' } })).json();
    await t.services.db.query('UPDATE rate_deck_rows SET next_increment = 2147483647 WHERE version_id = $1', [deck.versions[0].id]);
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Legacy', currency: 'SGD', accountCode: 'LEGACY', rateDeckId: deck.id } })).json();
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${org.id}` }, payload: { amount: '100.00', reason: 'credit' } });
    const report = await rate(asterisk([['LEGACY', '991234', '2026-11-07 09:00:00', 2, 'l1'], ['LEGACY', '991234', '2026-11-07 09:01:00', 1, 'l2']]));
    expect(report).toMatchObject({ rated: 1, rejected: 1 });
    expect(report.problems).toEqual([{ line: 1, outcome: 'rejected', reason: 'its billed quantity (2147483648) is more than a usage record can hold' }]);
  });

  it('rejects the lines of an organization whose currency changed after the file read it, and rates the others', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Moving', currency: 'SGD', accountCode: 'MOVING' } })).json();
    // What a currency change committed between the file's read of the organization and its
    // posting leaves: the accounts in the new currency, the organization as read in the old.
    await t.services.db.query("UPDATE ledger_accounts SET currency = 'USD' WHERE organization_id = $1", [org.id]);
    const report = await rate(asterisk([['RICH', '6591234567', '2026-11-08 09:00:00', 60, 'm1'], ['MOVING', '6591234567', '2026-11-08 09:01:00', 60, 'm2'], ['RICH', '6591234567', '2026-11-08 09:02:00', 60, 'm3']]));
    expect(report).toMatchObject({ rated: 2, rejected: 1, totals: [{ currency: 'SGD', amount: 120_000n, records: 2 }] });
    expect(report.problems).toEqual([{ line: 2, outcome: 'rejected', reason: expect.stringContaining('currency changed to USD') }]);
    await t.services.db.query("UPDATE ledger_accounts SET currency = 'SGD' WHERE organization_id = $1", [org.id]);
  });

  it('rates every good line of a file with a line the CSV reader cannot read, counting that line once', async () => {
    const calls = asterisk([
      ['RICH', '6591234567', '2026-11-03 09:00:00', 60, 'q1'],
      ['RICH', '6591234567', '2026-11-03 09:01:00', 60, 'q2'],
      ['RICH', '6591234567', '2026-11-03 09:02:00', 60, 'q3'],
      ['RICH', '6591234567', '2026-11-03 09:03:00', 60, 'q4'],
      ['RICH', '6591234567', '2026-11-03 09:04:00', 60, 'q5'],
    ]).split('\n');
    // A caller id an export tool wrote with backslash escapes.
    calls[1] = calls[1]!.replace('"""Desk"" <6531230001>"', '"\\"Alice\\" <6512345678>"');
    const report = await rate(calls.join('\n'));
    expect(report).toMatchObject({ lines: 5, rated: 4, rejected: 1 });
    expect(report.problems).toEqual([{ line: 2, outcome: 'rejected', reason: expect.stringContaining('unreadable CSV') }]);
  });

  it('rejects a last line no line break ends (it may be cut short), and charges it once when the file comes again whole', async () => {
    const whole = asterisk([
      ['RICH', '6591234567', '2026-11-03 10:00:00', 60, 'cut1'],
      ['RICH', '6591234567', '2026-11-03 10:01:00', 60, 'cut2'],
    ]);
    // Still being written: the last line stops after its amaflags, before its uniqueid, with as
    // many fields as a line of a switch that logs no uniqueid.
    const cut = whole.slice(0, whole.lastIndexOf(',"cut2"'));
    const first = await rate(cut);
    expect(first).toMatchObject({ lines: 2, rated: 1, rejected: 1 });
    expect(first.problems).toEqual([{ line: 2, outcome: 'rejected', reason: expect.stringContaining('no line break ends this line') }]);
    expect(await rate(whole)).toMatchObject({ rated: 1, duplicates: 1 });
    const stored = await t.services.db.query<{ count: number }>("SELECT count(*)::int AS count FROM usage_records WHERE started_at = '2026-11-03 10:01:00+00'");
    expect(stored.rows[0]!.count).toBe(1);
  });

  it('lets the event loop turn while a file that came in whole is rated', async () => {
    const calls = Array.from({ length: 3000 }, (_, index) => ['RICH', '8001234567', '2026-11-05 09:00:00', 30, `turn${index}`] as [string, string, string, number, string]);
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const report = await rate(asterisk(calls), 500);
    clearInterval(counting);
    expect(report.rated).toBe(3000);
    expect(turns).toBeGreaterThan(1);
  });

  it('stores free calls, also when a chunk has nothing to charge', async () => {
    const report = await rate(asterisk([
      ['RICH', '8001234567', '2026-11-04 09:00:00', 61, 'f1'],
      ['RICH', '8001234567', '2026-11-04 09:01:00', 20, 'f2'],
      ['TIGHT', '8001234567', '2026-11-04 09:02:00', 600, 'f3'],
    ]));
    expect(report).toMatchObject({ rated: 3, rejected: 0, duplicates: 0, totals: [{ currency: 'SGD', amount: 0n, records: 3 }] });
    const usage = (await t.services.db.query<{ external_id: string; cost: bigint; charge_id: string | null }>("SELECT external_id, cost, charge_id FROM usage_records WHERE external_id LIKE 'f%' ORDER BY external_id")).rows;
    expect(usage).toEqual([
      { external_id: 'f1', cost: 0n, charge_id: null },
      { external_id: 'f2', cost: 0n, charge_id: null },
      { external_id: 'f3', cost: 0n, charge_id: null },
    ]);
  });

  it('charges record by record when the credit does not cover a chunk, after taking out what was stored', async () => {
    const calls: [string, string, string, number, string][] = [
      ['TIGHT', '6591234567', '2026-11-05 09:00:00', 60, 't1'],
      ['TIGHT', '6591234567', '2026-11-05 09:01:00', 60, 't2'],
    ];
    expect(await rate(asterisk(calls), 100)).toMatchObject({ rated: 2, totals: [{ amount: 120_000n }] });
    // 0.13 left: t1 and t2 were stored, t3 and t4 fit (0.12), t5 does not.
    const more: [string, string, string, number, string][] = [
      ...calls,
      ['TIGHT', '6591234567', '2026-11-05 09:02:00', 60, 't3'],
      ['TIGHT', '6591234567', '2026-11-05 09:03:00', 60, 't4'],
      ['TIGHT', '6591234567', '2026-11-05 09:04:00', 60, 't5'],
    ];
    const report = await rate(asterisk(more), 100);
    expect(report).toMatchObject({ rated: 2, duplicates: 2, rejected: 1, totals: [{ amount: 120_000n }] });
    expect(report.problems.map((problem) => [problem.line, problem.outcome])).toEqual([
      [1, 'duplicate'],
      [2, 'duplicate'],
      [5, 'rejected'],
    ]);
  });

  it('reports a repeat of a record refused for credit as a duplicate, in its chunk or a later one', async () => {
    const code = `POOR-${pricing}`;
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: code, currency: 'SGD', accountCode: code } })).json();
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${code}` }, payload: { amount: '0.05', reason: 'credit' } });
    // 0.06 a minute to 65: the 0.05 pays for none of the calls.
    const calls: [string, string, string, number, string][] = [
      [code, '6591234567', '2026-11-07 09:00:00', 60, `q1-${pricing}`],
      [code, '6591234567', '2026-11-07 09:00:00', 60, `q1-${pricing}`],
      ['RICH', '6591234567', '2026-11-07 09:01:00', 60, `q2-${pricing}`],
      // Next chunk: the refused record again.
      ['RICH', '6591234567', '2026-11-07 09:02:00', 60, `q3-${pricing}`],
      [code, '6591234567', '2026-11-07 09:00:00', 60, `q1-${pricing}`],
    ];
    const report = await rate(asterisk(calls));
    expect(report).toMatchObject({ rated: 2, rejected: 1, duplicates: 2, totals: [{ amount: 120_000n, records: 2 }] });
    expect(report.problems).toEqual([
      { line: 1, outcome: 'rejected', reason: `${code} does not have enough usable credit` },
      { line: 2, outcome: 'duplicate', reason: `record q1-${pricing} appears earlier in this file` },
      { line: 5, outcome: 'duplicate', reason: `record q1-${pricing} appears earlier in this file` },
    ]);
  });

  it('charges the line of a record that can be priced after one with its id that could not: an IVR leg to s, then the call', async () => {
    // Asterisk 12+ may write the IVR's leg (to the extension s) and the call it forwarded under one uniqueid.
    const calls: [string, string, string, number, string][] = [
      ['RICH', 's', '2026-11-08 09:00:00', 20, `n1-${pricing}`],
      ['RICH', '6591234567', '2026-11-08 09:00:00', 300, `n1-${pricing}`],
      ['RICH', '6591234567', '2026-11-08 09:01:00', 60, `n2-${pricing}`],
      // Next chunk: the call again, now a duplicate of the line rated.
      ['RICH', '6591234567', '2026-11-08 09:00:00', 300, `n1-${pricing}`],
    ];
    const report = await rate(asterisk(calls));
    expect(report).toMatchObject({ lines: 4, rated: 2, rejected: 1, duplicates: 1, totals: [{ amount: 360_000n, records: 2 }] });
    expect(report.problems.map(({ line, outcome }) => [line, outcome])).toEqual([
      [1, 'rejected'],
      [4, 'duplicate'],
    ]);
  });

  it('previews in a dry run the line of a record that comes first in the file, whichever chunk is looked up first', async () => {
    // A big first chunk and a small last one: on a server the two are looked up at once.
    const calls: [string, string, string, number, string][] = [
      ['RICH', '6591234567', '2026-11-09 09:00:00', 60, `d1-${pricing}`],
      ...Array.from({ length: 299 }, (_, i): [string, string, string, number, string] => ['RICH', '6591234567', '2026-11-09 10:00:00', 60, `d${i + 2}-${pricing}`]),
      ['RICH', '6591234567', '2026-11-09 09:00:00', 3600, `d1-${pricing}`],
    ];
    for (let run = 0; run < 3; run++) {
      const report = await rateCdrFile(t.services, Readable.from([asterisk(calls)]), { format: 'asterisk', timeZone: 'UTC', chunkSize: 300, pricing, dryRun: true });
      expect(report).toMatchObject({ rated: 300, duplicates: 1, totals: [{ amount: 300n * 60_000n }] });
      expect(report.problems).toEqual([{ line: 301, outcome: 'duplicate', reason: `record d1-${pricing} appears earlier in this file` }]);
    }
  });

  it('charges record by record what the credit still covers when it was spent between its read and the posting', async () => {
    const code = `RACE-${pricing}`;
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: code, currency: 'SGD', accountCode: code } })).json();
    const adjust = (amount: string, key: string) => t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `${key}-${pricing}` }, payload: { amount, reason: 'test' } });
    await adjust('0.15', 'race-fund');
    // The second posting (the records the credit was read to cover) finds 0.05 of it spent by a call.
    let postings = 0;
    const ledger = new Proxy(t.services.ledger, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        if (property !== 'executeAll') return value.bind(target);
        return async (...args: unknown[]) => {
          if (++postings === 2) expect((await adjust('-0.05', 'race-spend')).statusCode).toBe(201);
          return value.apply(target, args);
        };
      },
    });
    const calls: [string, string, string, number, string][] = ['r1', 'r2', 'r3'].map((id, i) => [code, '6591234567', `2026-11-06 09:0${i}:00`, 60, `${id}-${pricing}`]);
    // 0.06 each: 0.15 covers two, then 0.10 is left for them: the first fits, the second not.
    const report = await rateCdrFile({ ...t.services, ledger }, Readable.from([asterisk(calls)]), { format: 'asterisk', timeZone: 'UTC', chunkSize: 100, pricing });
    expect(report).toMatchObject({ rated: 1, rejected: 2, totals: [{ amount: 60_000n, records: 1 }] });
    expect(report.problems.map((problem) => problem.line)).toEqual([2, 3]);
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/credits` })).json().usableCredits).toBe('0.04');
  });

  it('rates a file by its path, reading it where the lines are priced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringbill-cdrs-'));
    const file = path.join(dir, 'Master.csv');
    writeFileSync(file, asterisk([
      ['RICH', '6591234567', '2026-11-05 09:00:00', 61, `p-${pricing}-1`],
      ['NOBODY', '6591234567', '2026-11-05 09:01:00', 61, `p-${pricing}-2`],
      ['RICH', '447700900123', '2026-11-05 09:02:00', 10, `p-${pricing}-3`],
    ]));
    try {
      const report = await rateCdrFile(t.services, { file }, { format: 'asterisk', timeZone: 'UTC', fileName: 'Master.csv', chunkSize: 2, pricing });
      expect(report).toMatchObject({ lines: 3, rated: 2, rejected: 1, totals: [{ currency: 'SGD', amount: 140_000n, records: 2 }] });
      expect(report.problems).toEqual([{ line: 2, outcome: 'rejected', reason: 'no organization has the account code or wallet ID "NOBODY"' }]);
      const stored = await t.services.db.query<{ external_id: string }>("SELECT external_id FROM usage_records WHERE external_id LIKE $1 ORDER BY external_id", [`p-${pricing}-%`]);
      expect(stored.rows.map((row) => row.external_id)).toEqual([`p-${pricing}-1`, `p-${pricing}-3`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails, charging nothing, when the file cannot be read', async () => {
    const before = await t.services.db.query<{ count: number }>('SELECT count(*)::int AS count FROM usage_records');
    await expect(rateCdrFile(t.services, { file: path.join(tmpdir(), 'no-such-dir', 'Master.csv') }, { format: 'asterisk', timeZone: 'UTC', pricing })).rejects.toThrow(/ENOENT/);
    const after = await t.services.db.query<{ count: number }>('SELECT count(*)::int AS count FROM usage_records');
    expect(after.rows[0]!.count).toBe(before.rows[0]!.count);
  });

  it('leaves the ledger balanced', async () => {
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });
});
