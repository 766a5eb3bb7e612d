import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { listEvents } from '../../src/notifications/events.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe(`CDR files on ${testDatabaseKind}`, () => {
  let t: TestApp;
  const orgs: Record<string, { id: string; walletId: string }> = {};

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-12-10T00:00:00Z') });
    const deck = await t.call({ method: 'POST', url: '/v1/rate-decks?name=retail&default=true&effectiveFrom=2026-01-01T00:00:00Z', payload: fixture('rate-deck.csv'), headers: { 'content-type': 'text/csv' } });
    expect(deck.statusCode, deck.body).toBe(201);
    for (const [code, balance] of [
      ['ACME01', '50.00'],
      ['GLOBEX', '5.00'],
      ['POOR', '0.01'],
    ] as const) {
      const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: code, currency: 'SGD', accountCode: code, billingProfile: { timeZone: 'Asia/Singapore' } } })).json();
      await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${code}` }, payload: { amount: balance, reason: 'credit' } });
      orgs[code] = org;
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  const upload = (body: string, query: string) => t.call({ method: 'POST', url: `/v1/cdr-files?${query}`, payload: body, headers: { 'content-type': 'text/csv' } });
  const usable = async (code: string) => (await t.call({ method: 'GET', url: `/v1/organizations/${orgs[code]!.id}/credits` })).json().usableCredits as string;

  it('rates the Asterisk sample: good lines charged once, the rest reported by line', async () => {
    const response = await upload(fixture('asterisk-Master.csv'), 'format=asterisk&name=Master.csv');
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json();
    expect(report).toMatchObject({ lines: 11, rated: 6, skipped: 2, rejected: 2, duplicates: 1, totals: [{ currency: 'SGD', amount: '1.466333', records: 6 }] });
    expect(report.problems).toEqual([
      { line: 9, outcome: 'duplicate', reason: 'record 1762074900.1 appears earlier in this file' },
      { line: 10, outcome: 'rejected', reason: 'no organization has the account code or wallet ID "NOSUCH"' },
      { line: 11, outcome: 'rejected', reason: expect.stringContaining('malformed: end "not a date" is not a date and time; billsec "abc"') },
    ]);
    expect(await usable('ACME01')).toBe('48.604');
    expect(await usable('GLOBEX')).toBe('4.929667');
    const usage = (await t.call({ method: 'GET', url: `/v1/organizations/${orgs.ACME01!.id}/usage?source=cdr` })).json();
    expect(usage.totals).toEqual([{ service: 'voice', records: 4, quantity: 544, billedQuantity: 613, cost: '1.396' }]);
    const december = usage.data.find((record: { externalId: string }) => record.externalId === '1764669600.3');
    expect(december).toMatchObject({ cost: '0.088', billPeriod: '2026-12' });
    const free = (await t.call({ method: 'GET', url: `/v1/organizations/${orgs.GLOBEX!.id}/usage` })).json().data;
    expect(free.map((record: { cost: string }) => record.cost).sort()).toEqual(['0.00', '0.070333']);
  });

  it('charges nothing the second time', async () => {
    const again = (await upload(fixture('asterisk-Master.csv'), 'format=asterisk')).json();
    expect(again).toMatchObject({ rated: 0, duplicates: 7, rejected: 2, skipped: 2, totals: [] });
    expect(await usable('ACME01')).toBe('48.604');
  });

  it('rates the FreeSWITCH sample, with the space before its last field', async () => {
    const report = (await upload(fixture('freeswitch-cdr.csv'), 'format=freeswitch')).json();
    expect(report).toMatchObject({ lines: 4, rated: 3, skipped: 1, rejected: 0, duplicates: 0, totals: [{ currency: 'SGD', amount: '3.092', records: 3 }] });
    expect(await usable('GLOBEX')).toBe('2.029667');
  });

  it('rates a Ringbill CSV by wallet ID, local times in the given zone, and reports what the credit cannot pay', async () => {
    const lines = [
      'call_id,account_code,destination,started_at,billed_seconds,service,quantity',
      `r1,${orgs.POOR!.walletId},6591234567,2026-11-30 23:30:00,60,,`,
      `r2,${orgs.POOR!.walletId},6591234567,2026-11-30 23:40:00,60,,`,
      `r3,${orgs.POOR!.walletId.replaceAll('-', '')},6591234567,2026-11-30 23:50:00,0,,`,
      `r4,POOR,6591234567,2026-12-01T00:10:00+08:00,,SMS,2`,
    ].join('\n');
    const dry = (await upload(lines, 'format=ringbill&timezone=Asia/Singapore&dryRun=true')).json();
    expect(dry).toMatchObject({ dryRun: true, rated: 3, skipped: 1, totals: [{ amount: '0.102' }] });
    expect(await usable('POOR')).toBe('0.01');
    // 0.01 pays for neither call (0.021 each) nor the two messages (0.06).
    const report = (await upload(lines, 'format=ringbill&timezone=Asia/Singapore')).json();
    expect(report).toMatchObject({ rated: 0, rejected: 3, skipped: 1 });
    expect(report.problems[0]).toEqual({ line: 2, outcome: 'rejected', reason: 'POOR does not have enough usable credit' });
    await t.call({ method: 'POST', url: `/v1/organizations/${orgs.POOR!.id}/adjustments`, headers: { 'idempotency-key': 'poor-top-up' }, payload: { amount: '0.04', reason: 'top-up' } });
    const retried = (await upload(lines, 'format=ringbill&timezone=Asia/Singapore')).json();
    // 0.05 now: the first call and then the second fit (0.042); the messages do not.
    expect(retried).toMatchObject({ rated: 2, rejected: 1, totals: [{ amount: '0.042' }] });
    const usage = (await t.call({ method: 'GET', url: `/v1/organizations/${orgs.POOR!.id}/usage` })).json().data;
    expect(usage.map((record: { billPeriod: string }) => record.billPeriod)).toEqual(['2026-11', '2026-11']);
  });

  it('raises balance.low once when a file’s charges take usable credit to the threshold', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Low', currency: 'SGD', accountCode: 'LOW', lowCreditThreshold: '0.90' } })).json();
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': 'fund-low' }, payload: { amount: '1.00', reason: 'credit' } });
    const header = 'call_id,account_code,destination,started_at,billed_seconds';
    const low = async () => (await listEvents(t.database.db, { type: 'balance.low', organizationId: org.id, limit: 10 })).length;
    // Two calls of 0.042 in one file: 0.916, still above; a third file's call takes it to 0.874.
    await upload([header, 'low-1,LOW,6591234567,2026-12-01T00:00:00Z,61', 'low-2,LOW,6591234567,2026-12-01T00:05:00Z,61'].join('\n'), 'format=ringbill');
    expect(await low()).toBe(0);
    await upload([header, 'low-3,LOW,6591234567,2026-12-01T00:10:00Z,61'].join('\n'), 'format=ringbill');
    expect(await low()).toBe(1);
    // Topped up over the threshold and charged under it again: a new crossing, raised again.
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': 'top-low' }, payload: { amount: '0.05', reason: 'top-up' } });
    await upload([header, 'low-4,LOW,6591234567,2026-12-01T00:15:00Z,61'].join('\n'), 'format=ringbill');
    expect(await low()).toBe(2);
  });

  it('refuses a file it cannot read at all, an empty one, another format’s and a Ringbill file without its header', async () => {
    const refused = async (body: string, query: string) => {
      const response = await upload(body, query);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json().error.code).toBe('invalid_cdr_file');
      return response.json().error;
    };
    const acmeBefore = await usable('ACME01');
    expect((await refused('"unterminated,line\n', 'format=asterisk')).details).toEqual([{ line: 1, outcome: 'rejected', reason: expect.stringContaining('never closed') }]);
    expect((await refused('', 'format=asterisk')).message).toBe('the file has no lines');
    expect((await refused(fixture('freeswitch-cdr.csv'), 'format=asterisk')).message).toMatch(/^no line is a asterisk CDR; line 1: malformed: expected at least 16 fields/);
    expect((await refused('x,ACME01,659,2026-11-02T00:00:00Z,60\n', 'format=ringbill')).details).toMatchObject([{ line: 1, outcome: 'rejected' }]);
    expect(await usable('ACME01')).toBe(acmeBefore);
  });

  it('rejects, line by line, what no record may hold: a 4,000-character id, a NUL, a 200-character number', async () => {
    const header = 'call_id,account_code,destination,started_at,billed_seconds';
    const report = (
      await upload(
        [header, `${'x'.repeat(4000)},GLOBEX,6591234567,2026-12-03T00:00:00Z,61`, 'n1,GLOBEX,659\u00001234567,2026-12-03T00:01:00Z,61', `n2,GLOBEX,${'6'.repeat(200)},2026-12-03T00:02:00Z,61`, 'n3,GLOBEX,6591234567,2026-12-03T00:03:00Z,61'].join('\n'),
        'format=ringbill',
      )
    ).json();
    expect(report).toMatchObject({ lines: 4, rated: 1, rejected: 3 });
    expect(report.problems.map((problem: { line: number; reason: string }) => [problem.line, problem.reason])).toEqual([
      [2, 'malformed: the record id is longer than 200 characters'],
      [3, 'malformed: a field holds a NUL character'],
      [4, 'malformed: the destination is longer than 64 characters'],
    ]);
  });

  it('rates the lines after a line with a stray quote', async () => {
    const header = 'call_id,account_code,destination,started_at,billed_seconds';
    const report = (await upload([header, 'q1,GLOBEX,6591234567,2026-12-02T00:00:00Z,61', 'q2,GLOBEX,"65912"34567",2026-12-02T00:01:00Z,61', 'q3,GLOBEX,6591234567,2026-12-02T00:02:00Z,61'].join('\n'), 'format=ringbill')).json();
    expect(report).toMatchObject({ lines: 3, rated: 2, rejected: 1, unreadable: 1, problems: [{ line: 3, outcome: 'rejected', reason: expect.stringContaining('Invalid Closing Quote') }] });
    const badZone = await upload('', 'format=asterisk&timezone=Nowhere/Land');
    expect([badZone.statusCode, badZone.json().error.code]).toEqual([400, 'invalid_input']);
  });

  it('leaves the ledger balanced', async () => {
    expect((await verifyLedger(t.database.db)).problems).toEqual([]);
  });
});
