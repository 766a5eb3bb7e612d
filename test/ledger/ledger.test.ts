import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../src/clock/clock.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { lockAccounts } from '../../src/ledger/ledger-store.ts';
import { verifyLedger } from '../../src/ledger/verify-ledger.ts';
import type { Account } from '../../src/ledger/types.ts';
import { parseCurrency } from '../../src/money/index.ts';
import { openTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.ts';

const SGD = parseCurrency('SGD')!;
const ONE = 1_000_000n;

describe(`ledger on ${testDatabaseKind}`, () => {
  let test: TestDatabase;
  let clock: TestClock;
  let ledger: Ledger;
  let bank: Account;
  let revenue: Account;

  beforeAll(async () => {
    test = await openTestDatabase();
    clock = new TestClock(new Date('2026-11-01T00:00:00Z'));
    ledger = new Ledger(test.db, clock);
    bank = await ledger.providerAccount('bank', SGD);
    revenue = await ledger.providerAccount('revenue', SGD);
  });

  afterAll(async () => {
    await test?.close();
  });

  /** A spending account funded with `credits` and allowed `overdraft` beyond it. */
  async function wallet(credits: bigint, overdraft = 0n): Promise<Account> {
    const created = await ledger.createAccount({
      organizationId: null,
      code: `wallet:${Math.random().toString(36).slice(2)}`,
      currency: SGD,
      debitsMustNotExceedCredits: true,
      overdraftLimit: overdraft,
    });
    if (!created.ok) throw new Error(created.message);
    if (credits > 0n) {
      const funded = await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: created.value.id, amount: credits, code: 'topup' }] });
      if (!funded.ok) throw new Error(funded.message);
    }
    return created.value;
  }

  it('lets exactly 100 of 200 concurrent holds of 1.00 through on an account allowed to spend 100.00', async () => {
    const account = await wallet(60n * ONE, 40n * ONE);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledger.execute({
          transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'call' }],
          idempotencyKey: { scope: 'test', key: `hold-${account.id}-${i}` },
        }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    expect(results.filter((r) => !r.ok && r.code === 'insufficient_credit')).toHaveLength(100);
    const after = (await ledger.getAccount(account.id))!;
    expect(after.debitsPending).toBe(100n * ONE);
    expect(await verifyLedger(test.db)).toMatchObject({ ok: true, problems: [] });
  });

  it('keeps the limit and the keys across several ledgers on one database, as several API processes', async () => {
    // Each Ledger batches on its own, so their transactions interleave on the server's row locks.
    const ledgers = Array.from({ length: 4 }, () => new Ledger(test.db, clock, { maxBatch: 8 }));
    const account = await wallet(100n * ONE);
    const holds = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledgers[i % 4]!.execute({
          transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'call' }],
          idempotencyKey: { scope: 'test', key: `multi-${account.id}-${i}` },
        }),
      ),
    );
    expect(holds.filter((r) => r.ok)).toHaveLength(100);
    const same = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ledgers[i % 4]!.execute({
          transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: account.id, amount: ONE, code: 'topup' }],
          idempotencyKey: { scope: 'test', key: `multi-once-${account.id}` },
        }),
      ),
    );
    expect(new Set(same.map((r) => (r.ok ? r.value.transfers[0]!.id : r.code))).size).toBe(1);
    expect((await ledger.getAccount(account.id))!.creditsPosted).toBe(101n * ONE);
    expect((await verifyLedger(test.db)).ok).toBe(true);
  });

  it('settles commands sent at once under one key with other requests in their one batch, in arrival order, as if each came alone', async () => {
    const account = await wallet(3n * ONE);
    // A ledger over the same database that counts its transactions.
    let transactions = 0;
    const counted = Object.create(test.db, {
      transaction: { value: (work: Parameters<typeof test.db.transaction>[0]) => (transactions++, test.db.transaction(work)) },
    }) as typeof test.db;
    const counting = new Ledger(counted, clock);
    const spend = (amount: bigint) =>
      counting.execute({ transfers: [{ kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount, code: 'usage' }], idempotencyKey: { scope: 'test', key: `at-once-${account.id}` } });
    // 5.00 and 4.00 are refused (a refusal stores nothing), 2.00 runs, and after it the key is used.
    const results = await Promise.all([5n, 4n, 2n, 1n, 2n, ...Array.from({ length: 45 }, () => 6n)].map((units) => spend(units * ONE)));
    expect(results.slice(0, 5).map((result) => (result.ok ? (result.value.replayed ? 'replayed' : 'ok') : result.code))).toEqual([
      'insufficient_credit',
      'insufficient_credit',
      'ok',
      'idempotency_conflict',
      'replayed',
    ]);
    expect(results.slice(5).every((result) => !result.ok && result.code === 'idempotency_conflict')).toBe(true);
    // One batch, not one for each command refused before another under its key.
    expect(transactions).toBe(1);
    expect((await ledger.getAccount(account.id))!.debitsPosted).toBe(2n * ONE);
  });

  it.skipIf(testDatabaseKind !== 'postgres')('does not keep a posting waiting while another transaction has locked its accounts to credit the same revenue account', async () => {
    const [busy, other] = [await wallet(10n * ONE), await wallet(10n * ONE)];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const locked = new Promise<void>((resolve) => (holding = resolve));
    // What a batch for another organization holds between its lock and its write.
    const open = test.db.transaction(async (tx) => {
      const accounts = await lockAccounts(tx, [busy.id, revenue.id], 'row_locks');
      expect(accounts.map((account) => account.id).sort()).toEqual([busy.id, revenue.id].sort());
      holding();
      await gate;
    });
    await locked;
    const posting = ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: other.id, creditAccountId: revenue.id, amount: ONE, code: 'usage' }] });
    const outcome = await Promise.race([posting, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3000))]);
    release();
    await open;
    expect(outcome).toMatchObject({ ok: true });
    expect((await verifyLedger(test.db)).ok).toBe(true);
  });

  it('credits several provider accounts from several ledgers at once, in any order, without losing a posting', async () => {
    const ledgers = Array.from({ length: 4 }, () => new Ledger(test.db, clock, { maxBatch: 8 }));
    const [fees, tax] = [await ledger.providerAccount('revenue:fees', SGD), await ledger.providerAccount('tax', SGD)];
    const before = [(await ledger.getAccount(fees.id))!.creditsPosted, (await ledger.getAccount(tax.id))!.creditsPosted];
    // Payers of their own, so that batches from different ledgers do not wait for each other
    // on a payer and do meet on the two provider accounts.
    const payers = await Promise.all(Array.from({ length: 16 }, () => wallet(100n * ONE)));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const legs = [fees.id, tax.id].map((creditAccountId) => ({ kind: 'posted' as const, debitAccountId: payers[i % 16]!.id, creditAccountId, amount: ONE, code: 'usage' }));
        return ledgers[i % 4]!.execute({ transfers: i % 2 ? legs : legs.reverse() });
      }),
    );
    expect(results.every((result) => result.ok)).toBe(true);
    expect((await ledger.getAccount(fees.id))!.creditsPosted - before[0]!).toBe(200n * ONE);
    expect((await ledger.getAccount(tax.id))!.creditsPosted - before[1]!).toBe(200n * ONE);
    expect((await verifyLedger(test.db)).ok).toBe(true);
  });

  it('answers overloaded, unrun, a command that waited too long for its batch, and at once one that comes meanwhile', async () => {
    const account = await wallet(10n * ONE);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A database whose transactions wait at the gate: the first batch holds it, the rest queue.
    const slow = Object.create(test.db, {
      transaction: { value: async (work: Parameters<typeof test.db.transaction>[0]) => (await gate, test.db.transaction(work)) },
    }) as typeof test.db;
    const busy = new Ledger(slow, clock, { maxQueueWaitMs: 50 });
    const spend = () => busy.execute({ transfers: [{ kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'usage' }] });
    const inBatch = spend();
    await new Promise((resolve) => setImmediate(resolve));
    const queued = spend();
    expect(await Promise.race([queued, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20))])).toBe('still waiting');
    await new Promise((resolve) => setTimeout(resolve, 60));
    // The queued command has waited 60 ms: the next is refused without waiting.
    expect(await spend()).toMatchObject({ ok: false, code: 'overloaded' });
    release();
    // The queued one, taken after its 50 ms, is refused unrun: its caller would have given up.
    expect((await Promise.all([inBatch, queued])).map((result) => (result.ok ? 'ok' : result.code))).toEqual(['ok', 'overloaded']);
    expect(await spend()).toMatchObject({ ok: true });
    expect((await ledger.getAccount(account.id))!.debitsPosted).toBe(2n * ONE);
  });

  it('creates one transfer for the same idempotency key sent 50 times at once', async () => {
    const account = await wallet(10n * ONE);
    const command = {
      transfers: [{ kind: 'posted' as const, debitAccountId: account.id, creditAccountId: revenue.id, amount: 2n * ONE, code: 'usage' }],
      idempotencyKey: { scope: 'test', key: `once-${account.id}` },
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => ledger.execute(command)));
    const ids = new Set(results.map((r) => (r.ok ? r.value.transfers[0]!.id : r.code)));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.ok && !r.value.replayed)).toHaveLength(1);
    expect((await ledger.getAccount(account.id))!.debitsPosted).toBe(2n * ONE);
    // Later, too, the key replays the first result.
    const again = await ledger.execute(command);
    expect(again.ok && again.value.replayed && again.value.transfers[0]!.id).toBe([...ids][0]);
  });

  it('replays a retried hold that spent the last credit instead of refusing it', async () => {
    const account = await wallet(5n * ONE);
    const command = {
      transfers: [{ kind: 'pending' as const, debitAccountId: account.id, creditAccountId: revenue.id, amount: 5n * ONE, code: 'call' }],
      idempotencyKey: { scope: 'test', key: `spend-all-${account.id}` },
    };
    const first = await ledger.execute(command);
    expect(first.ok).toBe(true);
    const retry = await ledger.execute(command);
    expect(retry).toMatchObject({ ok: true, value: { replayed: true } });
    expect(retry.ok && first.ok && retry.value.transfers[0]!.id).toBe(first.ok && first.value.transfers[0]!.id);
    // Many retries at once, against several ledgers, all replay.
    const ledgers = Array.from({ length: 3 }, () => new Ledger(test.db, clock));
    const retries = await Promise.all(Array.from({ length: 30 }, (_, i) => ledgers[i % 3]!.execute(command)));
    expect(retries.every((r) => r.ok && r.value.replayed)).toBe(true);
    expect((await ledger.getAccount(account.id))!.debitsPending).toBe(5n * ONE);
  });

  it('answers a conflict when a key is reused for another request', async () => {
    const account = await wallet(10n * ONE);
    const key = { scope: 'test', key: `reuse-${account.id}` };
    const first = await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'usage' }], idempotencyKey: key });
    expect(first.ok).toBe(true);
    const second = await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount: 2n * ONE, code: 'usage' }], idempotencyKey: key });
    expect(second).toMatchObject({ ok: false, code: 'idempotency_conflict' });
    expect((await ledger.getAccount(account.id))!.debitsPosted).toBe(ONE);
  });

  it('lets a rejected command be retried with its key once it can succeed', async () => {
    const account = await wallet(0n);
    const command = {
      transfers: [{ kind: 'posted' as const, debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'usage' }],
      idempotencyKey: { scope: 'test', key: `retry-${account.id}` },
    };
    expect(await ledger.execute(command)).toMatchObject({ ok: false, code: 'insufficient_credit' });
    await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: account.id, amount: ONE, code: 'topup' }] });
    expect(await ledger.execute(command)).toMatchObject({ ok: true, value: { replayed: false } });
  });

  it('posts part of a hold and returns the remainder', async () => {
    const account = await wallet(10n * ONE);
    const held = await ledger.execute({ transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: 5n * ONE, code: 'call' }] });
    if (!held.ok) throw new Error(held.message);
    const hold = held.value.transfers[0]!;
    const posted = await ledger.execute({ transfers: [{ kind: 'post_pending', pendingId: hold.id, amount: 1_250_000n }] });
    expect(posted.ok).toBe(true);
    const after = (await ledger.getAccount(account.id))!;
    expect([after.debitsPosted, after.debitsPending]).toEqual([1_250_000n, 0n]);
    expect((await ledger.getTransfer(hold.id))!.state).toBe('posted');
    expect(await ledger.execute({ transfers: [{ kind: 'void_pending', pendingId: hold.id }] })).toMatchObject({ code: 'hold_already_posted' });
  });

  it('refuses to post a voided hold', async () => {
    const account = await wallet(10n * ONE);
    const held = await ledger.execute({ transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'call' }] });
    if (!held.ok) throw new Error(held.message);
    expect((await ledger.execute({ transfers: [{ kind: 'void_pending', pendingId: held.value.transfers[0]!.id }] })).ok).toBe(true);
    expect(await ledger.execute({ transfers: [{ kind: 'post_pending', pendingId: held.value.transfers[0]!.id }] })).toMatchObject({ code: 'hold_already_voided' });
    expect((await ledger.getAccount(account.id))!.debitsPending).toBe(0n);
  });

  it('expires a hold at its timeout, and an expired hold cannot be posted', async () => {
    const account = await wallet(10n * ONE);
    const held = await ledger.execute({ transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: 3n * ONE, code: 'call', timeoutSeconds: 30 }] });
    if (!held.ok) throw new Error(held.message);
    const hold = held.value.transfers[0]!;
    clock.advanceSeconds(29);
    expect(await ledger.expireTimedOutHolds()).toBe(0);
    clock.advanceSeconds(5);
    expect(await ledger.nextHoldTimeout()).toEqual(hold.timeoutAt);
    expect(await ledger.expireTimedOutHolds()).toBe(1);
    expect(await ledger.getTransfer(hold.id)).toMatchObject({ state: 'expired', resolvedAt: hold.timeoutAt });
    expect(await ledger.execute({ transfers: [{ kind: 'post_pending', pendingId: hold.id }] })).toMatchObject({ code: 'hold_expired' });
    expect((await ledger.getAccount(account.id))!.debitsPending).toBe(0n);
  });

  it('expires a timed-out hold when someone tries to post it before the job ran', async () => {
    const account = await wallet(10n * ONE);
    const held = await ledger.execute({ transfers: [{ kind: 'pending', debitAccountId: account.id, creditAccountId: revenue.id, amount: 3n * ONE, code: 'call', timeoutSeconds: 10 }] });
    if (!held.ok) throw new Error(held.message);
    clock.advanceSeconds(10);
    expect(await ledger.execute({ transfers: [{ kind: 'post_pending', pendingId: held.value.transfers[0]!.id }] })).toMatchObject({ code: 'hold_expired' });
    expect((await ledger.getAccount(account.id))!.debitsPending).toBe(0n);
    expect((await ledger.getTransfer(held.value.transfers[0]!.id))!.state).toBe('expired');
  });

  it('commits linked transfers all or nothing', async () => {
    const account = await wallet(ONE);
    const result = await ledger.execute({
      transfers: [
        { kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount: ONE, code: 'usage' },
        { kind: 'posted', debitAccountId: account.id, creditAccountId: revenue.id, amount: 1n, code: 'usage' },
      ],
    });
    expect(result).toMatchObject({ ok: false, code: 'insufficient_credit', index: 1 });
    expect((await ledger.getAccount(account.id))!.debitsPosted).toBe(0n);
  });

  it('verify finds an account whose totals do not match its transfers', async () => {
    const account = await wallet(ONE);
    await test.db.query('UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1', [account.id]);
    const report = await verifyLedger(test.db);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain(`account ${account.id}: credits_posted`);
    expect(report.problems.join('\n')).toContain('SGD: posted credits minus debits over all accounts is 1 micro-units');
    await test.db.query('UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE id = $1', [account.id]);
    expect((await verifyLedger(test.db)).ok).toBe(true);
  });
});
