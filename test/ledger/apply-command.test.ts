import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyCommand, availableBalance, type LedgerView } from '../../src/ledger/apply-command.ts';
import type { Account, LedgerRequest, Transfer } from '../../src/ledger/types.ts';
import { MAX_MICROS, type Currency } from '../../src/money/index.ts';

import { account, T0 } from '../helpers/accounts.ts';

/** A tiny in-memory book that applies successful commands, as the store does. */
class Book implements LedgerView {
  accounts = new Map<string, Account>();
  transfers = new Map<string, Transfer>();
  private next = 0;

  constructor(accounts: Account[]) {
    for (const a of accounts) this.accounts.set(a.id, a);
  }

  account(id: string) {
    return this.accounts.get(id);
  }

  transfer(id: string) {
    return this.transfers.get(id);
  }

  run(requests: LedgerRequest[], now = T0) {
    const result = applyCommand(this, requests, { now, commandId: 'cmd', newTransferId: () => `txf_${++this.next}` });
    if (result.ok) {
      for (const a of result.accounts) this.accounts.set(a.id, a);
      for (const t of [...result.created, ...result.resolved]) this.transfers.set(t.id, t);
    }
    return result;
  }
}

const wallet = (overdraftLimit = 0n, credits = 0n) =>
  account('wallet', { debitsMustNotExceedCredits: true, overdraftLimit, creditsPosted: credits });

describe('apply command', () => {
  it('posts a transfer to both sides', () => {
    const book = new Book([account('bank'), wallet()]);
    const result = book.run([{ kind: 'posted', debitAccountId: 'bank', creditAccountId: 'wallet', amount: 100_000_000n, code: 'topup' }]);
    expect(result.ok).toBe(true);
    expect(book.accounts.get('bank')!.debitsPosted).toBe(100_000_000n);
    expect(book.accounts.get('wallet')!.creditsPosted).toBe(100_000_000n);
  });

  it('refuses a transfer that would take an account’s totals past what a BIGINT holds, with the whole command', () => {
    const book = new Book([account('adjustments', { debitsPosted: MAX_MICROS - 10n }), account('a'), account('b')]);
    const linked = book.run([
      { kind: 'posted', debitAccountId: 'adjustments', creditAccountId: 'a', amount: 10n, code: 'adjustment' },
      { kind: 'posted', debitAccountId: 'adjustments', creditAccountId: 'b', amount: 1n, code: 'adjustment' },
    ]);
    expect(linked).toMatchObject({ ok: false, code: 'amount_out_of_range', index: 1 });
    expect(book.accounts.get('adjustments')!.debitsPosted).toBe(MAX_MICROS - 10n);
    expect(book.run([{ kind: 'pending', debitAccountId: 'adjustments', creditAccountId: 'a', amount: 11n, code: 'hold' }])).toMatchObject({ ok: false, code: 'amount_out_of_range' });
    expect(book.run([{ kind: 'posted', debitAccountId: 'adjustments', creditAccountId: 'a', amount: 10n, code: 'adjustment' }]).ok).toBe(true);
  });

  it('refuses to spend beyond credits plus the overdraft, to the micro-unit', () => {
    const book = new Book([account('revenue'), wallet(5_000_000n, 10_000_000n)]);
    const spend = (amount: bigint) => book.run([{ kind: 'posted', debitAccountId: 'wallet', creditAccountId: 'revenue', amount, code: 'usage' }]);
    expect(spend(15_000_001n)).toMatchObject({ ok: false, code: 'insufficient_credit', index: 0 });
    expect(spend(15_000_000n).ok).toBe(true);
    expect(spend(1n)).toMatchObject({ ok: false, code: 'insufficient_credit' });
    expect(availableBalance(book.accounts.get('wallet')!, T0)).toBe(0n);
  });

  it('counts holds against what is left to spend', () => {
    const book = new Book([account('revenue'), wallet(0n, 3_000_000n)]);
    const hold = () => book.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 1_000_000n, code: 'call' }]);
    expect(hold().ok && hold().ok && hold().ok).toBe(true);
    expect(hold()).toMatchObject({ ok: false, code: 'insufficient_credit' });
    expect(book.accounts.get('wallet')!.debitsPending).toBe(3_000_000n);
  });

  it('sizes a hold from what is left to spend, up to its amount, and refuses when nothing is', () => {
    const book = new Book([account('revenue'), wallet(0n, 2_500_000n)]);
    const seen: bigint[] = [];
    // As a call's grant does: whole blocks of 1.00 only.
    const hold = () =>
      book.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 2_000_000n, code: 'call', sizeTo: (available) => (seen.push(available), (available / 1_000_000n) * 1_000_000n) }]);
    expect(hold()).toMatchObject({ ok: true, created: [{ amount: 2_000_000n }] });
    expect(hold()).toMatchObject({ ok: false, code: 'insufficient_credit' });
    expect(seen).toEqual([2_500_000n, 500_000n]);
    expect(book.accounts.get('wallet')!.debitsPending).toBe(2_000_000n);
    // Never more than the amount asked, whatever the sizing answers.
    const greedy = new Book([account('revenue'), wallet(0n, 9_000_000n)]);
    expect(greedy.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 1_000_000n, code: 'call', sizeTo: (available) => available }])).toMatchObject({
      ok: true,
      created: [{ amount: 1_000_000n }],
    });
    expect(greedy.run([{ kind: 'posted', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 1n, code: 'x', sizeTo: () => 1n }])).toMatchObject({ ok: false, code: 'invalid_input' });
  });

  it('posts part of a hold and returns the rest', () => {
    const book = new Book([account('revenue'), wallet(0n, 10_000_000n)]);
    const held = book.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 4_000_000n, code: 'call' }]);
    if (!held.ok) throw new Error(held.message);
    const posted = book.run([{ kind: 'post_pending', pendingId: held.created[0]!.id, amount: 1_500_000n }]);
    expect(posted.ok).toBe(true);
    const w = book.accounts.get('wallet')!;
    expect([w.debitsPending, w.debitsPosted, availableBalance(w, T0)]).toEqual([0n, 1_500_000n, 8_500_000n]);
    expect(book.transfers.get(held.created[0]!.id)!.state).toBe('posted');
  });

  it('refuses each wrong resolution of a hold with its own code', () => {
    const book = new Book([account('revenue'), wallet(0n, 10_000_000n)]);
    const hold = (timeoutSeconds?: number) => {
      const r = book.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 1_000_000n, code: 'call', timeoutSeconds }]);
      if (!r.ok) throw new Error(r.message);
      return r.created[0]!.id;
    };
    const voided = hold();
    book.run([{ kind: 'void_pending', pendingId: voided }]);
    expect(book.run([{ kind: 'post_pending', pendingId: voided }])).toMatchObject({ code: 'hold_already_voided' });
    const posted = hold();
    book.run([{ kind: 'post_pending', pendingId: posted }]);
    expect(book.run([{ kind: 'void_pending', pendingId: posted }])).toMatchObject({ code: 'hold_already_posted' });
    expect(book.run([{ kind: 'post_pending', pendingId: hold(), amount: 1_000_001n }])).toMatchObject({ code: 'post_exceeds_hold', message: expect.stringMatching(/holds 1(\.0+)? SGD; cannot post 1\.000001$/) });
    expect(book.run([{ kind: 'post_pending', pendingId: 'txf_nope' }])).toMatchObject({ code: 'transfer_not_found' });
    const timed = hold(60);
    const later = new Date(T0.getTime() + 60_000);
    expect(book.run([{ kind: 'post_pending', pendingId: timed }], later)).toMatchObject({ code: 'hold_expired' });
    expect(book.run([{ kind: 'expire_pending', pendingId: timed }], later).ok).toBe(true);
    expect(book.transfers.get(timed)).toMatchObject({ state: 'expired', resolvedAt: later });
    const plain = book.run([{ kind: 'posted', debitAccountId: 'revenue', creditAccountId: 'wallet', amount: 1n, code: 'x' }]);
    if (!plain.ok) throw new Error(plain.message);
    expect(book.run([{ kind: 'void_pending', pendingId: plain.created[0]!.id }])).toMatchObject({ code: 'transfer_not_pending' });
  });

  it('does not expire a hold before its timeout', () => {
    const book = new Book([account('revenue'), wallet(0n, 10_000_000n)]);
    const r = book.run([{ kind: 'pending', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 1n, code: 'call', timeoutSeconds: 60 }]);
    if (!r.ok) throw new Error(r.message);
    expect(book.run([{ kind: 'expire_pending', pendingId: r.created[0]!.id }], new Date(T0.getTime() + 59_999))).toMatchObject({ code: 'transfer_not_pending' });
  });

  it('applies linked transfers all or nothing', () => {
    const book = new Book([account('bank'), account('revenue'), wallet(0n, 5_000_000n)]);
    const before = new Map(book.accounts);
    const result = book.run([
      { kind: 'posted', debitAccountId: 'bank', creditAccountId: 'wallet', amount: 1_000_000n, code: 'topup' },
      { kind: 'posted', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 7_000_000n, code: 'usage' },
    ]);
    expect(result).toMatchObject({ ok: false, code: 'insufficient_credit', index: 1 });
    expect(book.accounts).toEqual(before);
    // The second transfer sees the first one's credit.
    expect(
      book.run([
        { kind: 'posted', debitAccountId: 'bank', creditAccountId: 'wallet', amount: 2_000_000n, code: 'topup' },
        { kind: 'posted', debitAccountId: 'wallet', creditAccountId: 'revenue', amount: 7_000_000n, code: 'usage' },
      ]).ok,
    ).toBe(true);
  });

  it('rejects malformed transfers', () => {
    const book = new Book([account('a'), account('b'), account('jpy', { currency: 'JPY' as Currency })]);
    const t = (fields: Partial<{ debitAccountId: string; creditAccountId: string; amount: bigint; timeoutSeconds: number }>, kind: 'posted' | 'pending' = 'posted') =>
      book.run([{ kind, debitAccountId: 'a', creditAccountId: 'b', amount: 1n, code: 'x', ...fields }]);
    expect(t({ amount: 0n })).toMatchObject({ code: 'invalid_amount' });
    expect(t({ amount: -1n })).toMatchObject({ code: 'invalid_amount' });
    expect(t({ creditAccountId: 'a' })).toMatchObject({ code: 'same_account' });
    expect(t({ creditAccountId: 'nope' })).toMatchObject({ code: 'account_not_found' });
    expect(t({ creditAccountId: 'jpy' })).toMatchObject({ code: 'currency_mismatch' });
    expect(t({ timeoutSeconds: 10 })).toMatchObject({ code: 'invalid_input' });
    expect(t({ timeoutSeconds: 0 }, 'pending')).toMatchObject({ code: 'invalid_input' });
    expect(applyCommand(book, [], { now: T0, commandId: 'c', newTransferId: () => 'x' })).toMatchObject({ code: 'invalid_input' });
  });
});

describe('ledger invariants', () => {
  const op = fc.oneof(
    fc.record({ type: fc.constant('posted' as const), from: fc.nat(3), to: fc.nat(3), amount: fc.bigInt({ min: 1n, max: 5_000_000n }) }),
    fc.record({ type: fc.constant('pending' as const), from: fc.nat(3), to: fc.nat(3), amount: fc.bigInt({ min: 1n, max: 5_000_000n }) }),
    fc.record({ type: fc.constant('post' as const), hold: fc.nat(50), amount: fc.option(fc.bigInt({ min: 0n, max: 6_000_000n })) }),
    fc.record({ type: fc.constant('void' as const), hold: fc.nat(50) }),
  );

  it('whatever is applied, debits equal credits and no spending account goes beyond its limit', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const ids = ['bank', 'w1', 'w2', 'revenue'];
        const book = new Book([
          account('bank'),
          account('w1', { debitsMustNotExceedCredits: true, overdraftLimit: 3_000_000n }),
          account('w2', { debitsMustNotExceedCredits: true }),
          account('revenue'),
        ]);
        const holds: string[] = [];
        for (const o of ops) {
          let requests: LedgerRequest[];
          if (o.type === 'posted' || o.type === 'pending') {
            requests = [{ kind: o.type, debitAccountId: ids[o.from]!, creditAccountId: ids[o.to]!, amount: o.amount, code: 'p' }];
          } else if (holds.length === 0) {
            continue;
          } else if (o.type === 'post') {
            requests = [{ kind: 'post_pending', pendingId: holds[o.hold % holds.length]!, ...(o.amount === null ? {} : { amount: o.amount }) }];
          } else {
            requests = [{ kind: 'void_pending', pendingId: holds[o.hold % holds.length]! }];
          }
          const result = book.run(requests);
          if (result.ok && requests[0]!.kind === 'pending') holds.push(result.created[0]!.id);
        }
        const all = [...book.accounts.values()];
        const sum = (f: (a: Account) => bigint) => all.reduce((s, a) => s + f(a), 0n);
        expect(sum((a) => a.creditsPosted - a.debitsPosted)).toBe(0n);
        expect(sum((a) => a.creditsPending - a.debitsPending)).toBe(0n);
        for (const a of all) {
          if (a.debitsMustNotExceedCredits) expect(availableBalance(a, T0) >= 0n).toBe(true);
          expect(a.debitsPending >= 0n && a.creditsPending >= 0n).toBe(true);
        }
        // Each account's totals equal the sum of its transfers.
        for (const a of all) {
          const mine = [...book.transfers.values()];
          const posted = (side: 'debitAccountId' | 'creditAccountId') =>
            mine.filter((t) => t[side] === a.id && (t.kind === 'posted' || t.kind === 'post_pending')).reduce((s, t) => s + t.amount, 0n);
          const pending = (side: 'debitAccountId' | 'creditAccountId') =>
            mine.filter((t) => t[side] === a.id && t.kind === 'pending' && t.state === 'pending').reduce((s, t) => s + t.amount, 0n);
          expect([a.debitsPosted, a.creditsPosted, a.debitsPending, a.creditsPending]).toEqual([
            posted('debitAccountId'),
            posted('creditAccountId'),
            pending('debitAccountId'),
            pending('creditAccountId'),
          ]);
        }
      }),
    );
  });
});
