import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import { listEvents } from '../../src/notifications/events.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { importDefaultDeck, startTestApp, type TestApp } from '../helpers/app.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

type Org = { id: string; walletId: string };
type UsageRow = { externalId: string; destination: string; prefix: string; destinationName: string; rateDeckVersionId: string; startedAt: string; quantity: number; billedQuantity: number; cost: string; billPeriod: string };

/** The sample deck as the default deck, and the samples' organizations (billed in Singapore time) funded: returns the deck's version id. */
async function setUpSamples(t: TestApp, orgs: Record<string, Org>, balances: ReadonlyArray<readonly [string, string]>): Promise<string> {
  const deck = await importDefaultDeck(t);
  for (const [code, balance] of balances) {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: code, currency: 'SGD', accountCode: code, billingProfile: { timeZone: 'Asia/Singapore' } } })).json();
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': `fund-${code}` }, payload: { amount: balance, reason: 'credit' } });
    orgs[code] = org;
  }
  return deck.json().versions[0].id as string;
}

/** An organization's usage from CDR files, by the switch's record id (Asterisk uniqueid, FreeSWITCH uuid). */
async function cdrUsage(t: TestApp, org: Org): Promise<Map<string, UsageRow>> {
  const data = (await t.call({ method: 'GET', url: `/v1/organizations/${org.id}/usage?source=cdr&limit=100` })).json().data as UsageRow[];
  return new Map(data.map((record) => [record.externalId, record]));
}

describe(`CDR files on ${testDatabaseKind}`, () => {
  let t: TestApp;
  const orgs: Record<string, Org> = {};

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-12-10T00:00:00Z') });
    await setUpSamples(t, orgs, [
      ['ACME01', '50.00'],
      ['GLOBEX', '5.00'],
      ['POOR', '0.01'],
    ]);
  });

  afterAll(async () => {
    await t?.close();
  });

  /** A file as switches write them: a line break ends every line, the last too. */
  const upload = (body: string | Buffer, query: string) =>
    t.call({ method: 'POST', url: `/v1/cdr-files?${query}`, payload: typeof body === 'string' && !body.endsWith('\n') ? `${body}\n` : body, headers: { 'content-type': 'text/csv' } });
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
    const acme = await cdrUsage(t, orgs.ACME01!);
    // Lines 1 to 4 of the file, each as the samples README prices it.
    expect(acme.get('1762074900.1')).toMatchObject({ destination: '6591234567', prefix: '659', quantity: 61, billedQuantity: 120, cost: '0.042', billPeriod: '2026-11' });
    expect(acme.get('1762077600.2')).toMatchObject({ destination: '447700900123', prefix: '447', quantity: 61, billedQuantity: 66, cost: '0.0935', billPeriod: '2026-11' });
    expect(acme.get('1764669600.3')).toMatchObject({ destination: '447700900123', prefix: '447', quantity: 61, billedQuantity: 66, cost: '0.088', billPeriod: '2026-12' });
    expect(acme.get('1762178400.4')).toMatchObject({ destination: '2348031234567', prefix: '2348', quantity: 361, billedQuantity: 361, cost: '1.1725', billPeriod: '2026-11' });
    expect(acme.size).toBe(4);
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
    expect(report).toMatchObject({ lines: 4, rated: 3, skipped: 1, rejected: 0, duplicates: 0, totals: [{ currency: 'SGD', amount: '3.092', records: 3 }], problems: [] });
    expect(await usable('ACME01')).toBe('48.412');
    expect(await usable('GLOBEX')).toBe('2.029667');
    const acme = await cdrUsage(t, orgs.ACME01!);
    const globex = await cdrUsage(t, orgs.GLOBEX!);
    // Line 1, 2 and 4, each as the samples README prices it.
    expect(acme.get('7f1c2a4e-3b1d-4c55-9a0e-0d4f5b6a7c01')).toMatchObject({ destination: '6591234567', prefix: '659', quantity: 61, billedQuantity: 120, cost: '0.042' });
    expect(acme.get('7f1c2a4e-3b1d-4c55-9a0e-0d4f5b6a7c03')).toMatchObject({ destination: '4915112345678', prefix: '4915', destinationName: 'Germany - Mobile', quantity: 120, billedQuantity: 120, cost: '0.15' });
    expect(globex.get('7f1c2a4e-3b1d-4c55-9a0e-0d4f5b6a7c06')).toMatchObject({ destination: '881812345678', prefix: '8818', quantity: 5, billedQuantity: 60, cost: '2.90' });
    // Line 3, NO_ANSWER with billsec 0, is the one skipped: no usage at all.
    expect(acme.has('7f1c2a4e-3b1d-4c55-9a0e-0d4f5b6a7c05')).toBe(false);
  });

  it('charges nothing for the FreeSWITCH sample the second time', async () => {
    const again = (await upload(fixture('freeswitch-cdr.csv'), 'format=freeswitch')).json();
    expect(again).toMatchObject({ lines: 4, rated: 0, skipped: 1, rejected: 0, duplicates: 3, totals: [] });
    expect(again.problems.map((problem: { line: number; outcome: string }) => [problem.line, problem.outcome])).toEqual([
      [1, 'duplicate'],
      [2, 'duplicate'],
      [4, 'duplicate'],
    ]);
    expect(await usable('ACME01')).toBe('48.412');
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

  it('charges an organization in its new currency after the currency changed, once a file had met it in the old one', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Swap', currency: 'SGD', accountCode: 'SWAP' } })).json();
    const file = ['call_id,account_code,destination,started_at,billed_seconds', 'swap-1,SWAP,6591234567,2026-12-01T00:00:00Z,61'].join('\n');
    // Refused for want of credit: nothing moved, so the currency may still change.
    expect((await upload(file, 'format=ringbill')).json()).toMatchObject({ rated: 0, rejected: 1 });
    const changed = await t.call({ method: 'PUT', url: `/v1/organizations/${org.id}/billing-profile`, payload: { currency: 'EUR' } });
    expect(changed.statusCode, changed.body).toBe(200);
    await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/adjustments`, headers: { 'idempotency-key': 'fund-swap' }, payload: { amount: '1.00', reason: 'credit' } });
    expect((await upload(file, 'format=ringbill')).json()).toMatchObject({ rated: 1, rejected: 0, totals: [{ currency: 'EUR', amount: '0.042', records: 1 }] });
  });

  it('refuses a file it cannot read at all, an empty one, another format’s and a Ringbill file without its header', async () => {
    const refused = async (body: string | Buffer, query: string) => {
      const response = await upload(body, query);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json().error.code).toBe('invalid_cdr_file');
      return response.json().error;
    };
    const acmeBefore = await usable('ACME01');
    expect((await refused('"unterminated,line\n', 'format=asterisk')).details).toEqual([{ line: 1, outcome: 'rejected', reason: expect.stringContaining('not closed on its line') }]);
    // UTF-16 (CR line ends and all) is refused whole, not read as text of its own.
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(fixture('asterisk-Master.csv').replaceAll('\n', '\r'), 'utf16le')]);
    expect((await refused(utf16, 'format=asterisk')).details).toEqual([{ line: 1, outcome: 'rejected', reason: expect.stringContaining('UTF-16') }]);
    expect((await refused('', 'format=asterisk')).message).toBe('the file has no lines');
    expect((await refused(fixture('freeswitch-cdr.csv'), 'format=asterisk')).message).toMatch(/^no line is a asterisk CDR; line 1: malformed: expected at least 16 fields/);
    expect((await refused('x,ACME01,659,2026-11-02T00:00:00Z,60\n', 'format=ringbill')).details).toMatchObject([{ line: 1, outcome: 'rejected' }]);
    // A column named twice is read from one place only: the first one's billsec would be lost.
    const twice = await refused('account_code,destination,started_at,billed_seconds,billed_seconds\nACME01,6591000001,2026-11-02T09:15:04Z,61,0\n', 'format=ringbill');
    expect(twice.details).toEqual([{ line: 1, outcome: 'rejected', reason: expect.stringContaining('billed_seconds named more than once') }]);
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
    // A field beyond the header's columns belongs to none of them.
    const extra = (await upload([header, 'e1,GLOBEX,6591234567,2026-12-03T00:04:00Z,61,sms', 'e2,GLOBEX,6591234567,2026-12-03T00:05:00Z,61'].join('\n'), 'format=ringbill')).json();
    expect(extra).toMatchObject({ rated: 1, rejected: 1, problems: [{ line: 2, outcome: 'rejected', reason: 'malformed: 6 fields, where the header names 5' }] });
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

describe(`the Asterisk sample in Singapore time, on ${testDatabaseKind}`, () => {
  let t: TestApp;
  let deckVersionId: string;
  const orgs: Record<string, Org> = {};

  beforeAll(async () => {
    t = await startTestApp({ start: new Date('2026-12-10T00:00:00Z') });
    deckVersionId = await setUpSamples(t, orgs, [
      ['ACME01', '50.00'],
      ['GLOBEX', '5.00'],
    ]);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('reads the file’s local times in the zone given: the same prices, periods and row versions, 8 hours earlier', async () => {
    const response = await t.call({ method: 'POST', url: '/v1/cdr-files?format=asterisk&timezone=Asia/Singapore', payload: fixture('asterisk-Master.csv'), headers: { 'content-type': 'text/csv' } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ lines: 11, rated: 6, skipped: 2, rejected: 2, duplicates: 1, totals: [{ currency: 'SGD', amount: '1.466333', records: 6 }] });
    const acme = await cdrUsage(t, orgs.ACME01!);
    const globex = await cdrUsage(t, orgs.GLOBEX!);
    const seen = (record: UsageRow | undefined) => record && [record.startedAt, record.billPeriod, record.rateDeckVersionId, record.billedQuantity, record.cost];
    // No call is near a month's end or the 447 row of 2026-12-01: moved 8 hours, each keeps its UTC price.
    expect(seen(acme.get('1762074900.1'))).toEqual(['2026-11-02T01:15:00.000Z', '2026-11', deckVersionId, 120, '0.042']);
    expect(seen(acme.get('1762077600.2'))).toEqual(['2026-11-02T02:00:00.000Z', '2026-11', deckVersionId, 66, '0.0935']);
    expect(seen(acme.get('1764669600.3'))).toEqual(['2026-12-02T02:00:00.000Z', '2026-12', deckVersionId, 66, '0.088']);
    expect(seen(acme.get('1762178400.4'))).toEqual(['2026-11-03T06:00:00.000Z', '2026-11', deckVersionId, 361, '1.1725']);
    expect(seen(globex.get('1762243200.7'))).toEqual(['2026-11-04T00:00:00.000Z', '2026-11', deckVersionId, 61, '0.070333']);
    expect(seen(globex.get('1762243800.8'))).toEqual(['2026-11-04T00:10:00.000Z', '2026-11', deckVersionId, 60, '0.00']);
    expect([acme.size, globex.size]).toEqual([4, 2]);
  });
});
