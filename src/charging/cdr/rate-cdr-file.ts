import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Charge } from '../../billing/charge.ts';
import { insertCharges } from '../../billing/charge-store.ts';
import { listAccountsOfOrganizations } from '../../ledger/ledger-store.ts';
import type { Currency } from '../../money/index.ts';
import { spendingAccountCode, type Organization } from '../../organizations/organization.ts';
import { isUniqueViolation } from '../../store/database.ts';
import { turnTaker } from '../../in-turns.ts';
import { usageAccountIds, type ChargingDeps } from '../charging-deps.ts';
import { availableBalance } from '../../ledger/apply-command.ts';
import { spendingAccountOf } from '../../organizations/organization-accounts.ts';
import { RingbillError } from '../../errors.ts';
import { chargeKindOf } from '../usage-record.ts';
import { existingUsageKeys, usageKey } from '../usage-store.ts';
import type { CdrFormat } from './cdr.ts';
import { MALFORMED, priceCdrs, type CdrProblem, type PricingSource } from './cdr-pricer.ts';
import { PricedChunk, recordHash, repeatReason, type ChunkGroup } from './priced-chunk.ts';
import { priceCdrsInWorker } from './pricing-thread.ts';
import { USAGE_COPY_COLUMNS } from './usage-copy.ts';

export type { CdrProblem } from './cdr-pricer.ts';

export interface CdrReport {
  format: CdrFormat;
  dryRun: boolean;
  lines: number;
  /** Priced and charged (free calls included). */
  rated: number;
  /** Unanswered: nothing to charge. */
  skipped: number;
  rejected: number;
  /** Of the rejected, the lines that could not be read as the format's CDRs at all. */
  unreadable: number;
  duplicates: number;
  totals: { currency: Currency; amount: bigint; records: number }[];
  /** The lines not rated, up to 1,000 of them. */
  problems: CdrProblem[];
}

export interface RateCdrOptions {
  format: CdrFormat;
  timeZone: string;
  dryRun?: boolean;
  /** Shown on the charges the file creates. */
  fileName?: string;
  onProgress?: (bytes: number) => void;
  /** CDRs per chunk (tests make it small). */
  chunkSize?: number;
  /**
   * Where lines are parsed and priced: in this thread, or in a worker thread of their own, beside
   * the storing (for a large file on PGlite, whose database runs in this thread).
   */
  pricing?: 'here' | 'worker';
}

const MAX_PROBLEMS = 1000;

const DUPLICATE = 'was rated before (in this file or an earlier one)';

/**
 * Rates a CDR file and charges each organization for its calls, streaming it in chunks. Each
 * line is rated, skipped (unanswered), a duplicate (its record id was rated before, in this file
 * or an earlier one), or rejected with its reason (unreadable, no such organization, no price, not
 * enough credit). Good lines land exactly once, whatever the bad lines are; importing a file
 * twice charges nothing the second time.
 */
export async function rateCdrFile(deps: ChargingDeps, input: Readable | { readonly file: string }, options: RateCdrOptions): Promise<CdrReport> {
  const report: CdrReport = { format: options.format, dryRun: options.dryRun ?? false, lines: 0, rated: 0, skipped: 0, rejected: 0, unreadable: 0, duplicates: 0, totals: [], problems: [] };
  const totals = new Map<Currency, { amount: bigint; records: number }>();
  const problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => {
    if (outcome === 'duplicate') report.duplicates++;
    else {
      report.rejected++;
      if (reason.startsWith(MALFORMED)) report.unreadable++;
    }
    report.problems.push({ line, outcome, reason });
    // The first lines not rated are kept, whichever chunk's step found them first.
    if (report.problems.length >= 2 * MAX_PROBLEMS) report.problems = firstProblems(report.problems);
  };
  const rated = (group: ChunkGroup) => {
    report.rated += group.records;
    const total = totals.get(group.organization.currency);
    if (total) {
      total.amount += group.amount;
      total.records += group.records;
    } else totals.set(group.organization.currency, { amount: group.amount, records: group.records });
  };

  /**
   * A dry run stores nothing, so the database cannot tell it a record repeats one of an earlier
   * chunk: it remembers the file's records itself (a real run leaves that to the database), each
   * by its `recordHash`.
   */
  const dryRunSeen = new Set<string>();
  /**
   * Records refused (for their credit, or their organization), by the same hashes: a repeat of
   * one is the duplicate of a line already reported, as it is when both fall in one chunk, not a
   * call refused twice.
   */
  const refusedSeen = new Set<string>();
  const seenKey = (chunk: PricedChunk, record: number) => recordHash(chunk.organizationOfRecord(record).id, chunk.externalId(record));
  /** Drops the chunk's records `seen` holds, as repeats of earlier lines; with `remember`, adds the others to it. */
  const dropSeen = (chunk: PricedChunk, seen: Set<string>, remember: boolean) => {
    for (const record of [...chunk.live()]) {
      const key = seenKey(chunk, record);
      if (seen.has(key)) {
        chunk.drop(record);
        problem(chunk.lines[record]!, 'duplicate', repeatOf(chunk, record));
      } else if (remember) seen.add(key);
    }
  };
  const outcomes: ChunkOutcomes = {
    problem,
    rated,
    refuse: (chunk, record, reason) => {
      refusedSeen.add(seenKey(chunk, record));
      problem(chunk.lines[record]!, 'rejected', reason);
    },
  };
  /** Whether the last chunk found records stored before: then the next looks for them first. */
  let lookFirst = false;
  /** Charges a priced chunk and stores its records. */
  const store = async (chunk: PricedChunk): Promise<void> => {
    if (report.dryRun) {
      // Before anything is awaited, so in the file's order: on a server two chunks are looked up
      // at once, and the later one's lookup may come back first.
      dropSeen(chunk, dryRunSeen, true);
      await dropStored(deps, chunk, problem);
      chunk.groups().forEach(rated);
      return;
    }
    if (refusedSeen.size > 0) dropSeen(chunk, refusedSeen, false);
    const verified = lookFirst;
    if (lookFirst) lookFirst = await dropStored(deps, chunk, problem);
    try {
      await charge(deps, chunk, options.fileName, verified, outcomes);
    } catch (error) {
      if (!(error instanceof StoredBefore)) throw error;
      // Some of the chunk was stored before (a file imported again): nothing of the attempt
      // landed. Look them up, and do so first for the chunks after, as long as it finds some.
      lookFirst = await dropStored(deps, chunk, problem);
      await charge(deps, chunk, options.fileName, true, outcomes);
    }
  };

  // A chunk is priced while the ones before it are stored. On a database server the two overlap,
  // and two chunks are stored at once: each copies its records while the other posts.
  const parallel = deps.db.kind === 'postgres' ? 2 : 1;
  const storing = new Map<Promise<void>, ReadonlySet<string>>();
  let failed: { error: unknown } | undefined;
  const flush = async (chunk: PricedChunk) => {
    while (storing.size >= parallel) await Promise.race(storing.keys());
    if (failed) throw failed.error;
    // A record of a chunk still being stored, repeated in this one, is this one's duplicate, as a
    // repeat within one chunk is: whichever transaction ends first, the earlier line is the one
    // rated (or reported), not the later.
    const keys = new Set<string>();
    if (parallel > 1 && !report.dryRun) {
      const earlier = [...storing.values()];
      for (const record of [...chunk.live()]) {
        const key = recordKey(chunk, record);
        if (earlier.some((keysOfChunk) => keysOfChunk.has(key))) {
          chunk.drop(record);
          problem(chunk.lines[record]!, 'duplicate', repeatOf(chunk, record));
        } else keys.add(key);
      }
    }
    const stored: Promise<void> = store(chunk)
      .catch((error: unknown) => {
        failed ??= { error };
      })
      .finally(() => storing.delete(stored));
    storing.set(stored, keys);
  };

  const source: PricingSource = { db: deps.db, rating: deps.rating, now: () => deps.clock.now() };
  const pricingOptions = { format: options.format, timeZone: options.timeZone, chunkSize: options.chunkSize };
  const events = options.pricing === 'worker' ? priceCdrsInWorker(source, input, pricingOptions) : priceCdrs(source, 'file' in input ? createReadStream(input.file) : input, pricingOptions);
  // A file read from a fast client or a disk comes in faster than it is priced; on PGlite, whose
  // answers take no turn of the event loop either, the server then answered nothing else.
  const takeTurn = turnTaker();
  for await (const event of events) {
    await takeTurn();
    options.onProgress?.(event.bytes);
    report.lines += event.lines;
    report.skipped += event.skipped;
    for (const { line, outcome, reason } of event.problems) problem(line, outcome, reason);
    if (event.chunk && event.chunk.count > 0) {
      await prefetchAccounts(deps, event.chunk.organizations);
      await flush(event.chunk);
    }
  }
  await Promise.all(storing.keys());
  if (failed) throw failed.error;
  report.totals = [...totals].map(([currency, total]) => ({ currency, ...total })).sort((a, b) => a.currency.localeCompare(b.currency));
  report.problems = firstProblems(report.problems);
  return report;
}

/**
 * Why a file is no CDR file at all (empty, or not one line readable as the format: the wrong
 * format, a bad header), or undefined. Such a file is refused whole rather than reported line by
 * line as if it had been rated.
 */
export function unusableFile(report: CdrReport): string | undefined {
  if (report.lines === 0) return 'the file has no lines';
  if (report.unreadable < report.lines) return undefined;
  const first = report.problems[0];
  return `no line is a ${report.format} CDR${first ? `; line ${first.line}: ${first.reason}` : ''}`;
}

/** The problems of the first lines, in line order, up to MAX_PROBLEMS. */
function firstProblems(problems: CdrProblem[]): CdrProblem[] {
  return problems.sort((a, b) => a.line - b.line).slice(0, MAX_PROBLEMS);
}

type Problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => void;

/** What becomes of a chunk's records as it is charged. */
interface ChunkOutcomes {
  problem: Problem;
  rated: (group: ChunkGroup) => void;
  /** A record not charged (credit, or its organization refused): reported, and remembered for its repeats. */
  refuse: (chunk: PricedChunk, record: number, reason: string) => void;
}

/** Drops the chunk's repeats of a record earlier in it, reported as duplicates; says whether there were any. */
function dropRepeats(chunk: PricedChunk, problem: Problem): boolean {
  const repeats = chunk.dropRepeats();
  for (const record of repeats) problem(chunk.lines[record]!, 'duplicate', repeatOf(chunk, record));
  return repeats.length > 0;
}

function repeatOf(chunk: PricedChunk, record: number): string {
  return repeatReason(chunk.externalId(record));
}

/**
 * Drops from the chunk its repeats (see dropRepeats) and the records stored before (of the given
 * organizations only, when given), reported as duplicates; says whether any were stored before.
 */
async function dropStored(deps: ChargingDeps, chunk: PricedChunk, problem: Problem, organizations?: ReadonlySet<number>): Promise<boolean> {
  dropRepeats(chunk, problem);
  const records = [...chunk.live(organizations)];
  const existing = await existingUsageKeys(deps.db, 'cdr', records.map((record) => ({ organizationId: chunk.organizationOfRecord(record).id, externalId: chunk.externalId(record) })));
  if (existing.size === 0) return false;
  for (const record of records) {
    const externalId = chunk.externalId(record);
    if (!existing.has(recordKey(chunk, record))) continue;
    chunk.drop(record);
    problem(chunk.lines[record]!, 'duplicate', `record ${externalId} ${DUPLICATE}`);
  }
  return true;
}

function recordKey(chunk: PricedChunk, record: number): string {
  return usageKey(chunk.organizationOfRecord(record).id, chunk.externalId(record));
}

/** A chunk charged without looking for stored records first found some: nothing of it landed. */
class StoredBefore extends Error {}

/**
 * Charges a chunk: one ledger posting per organization, all in one transaction with every usage
 * record and charge of the chunk. An organization whose credit does not cover its records is then
 * charged record by record, so that the ones it can pay for still land. No idempotency keys are
 * needed: a record's (organization, id) is unique, and the transaction that posts its cost is the
 * one that stores it, so a record stored before rolls the chunk back. When the records were not
 * `verified` (looked up first), that throws StoredBefore; otherwise it was a race (a retry, a
 * concurrent import), and the chunk is run again, its records now found as duplicates.
 */
async function charge(deps: ChargingDeps, chunk: PricedChunk, fileName: string | undefined, verified: boolean, outcomes: ChunkOutcomes): Promise<void> {
  const { problem, rated, refuse } = outcomes;
  // An organization refused for another reason than its credit (its currency changed since the
  // file read it) has each of its lines rejected with that reason; the others go on.
  const reject = (of: PricedChunk, organization: number, reason: string) => {
    for (const record of of.live(new Set([organization]))) refuse(of, record, reason);
  };
  const settle = (of: PricedChunk, { group, result }: { group: ChunkGroup; result: Posted }, short: Set<number>) => {
    if (result === 'ok') rated(group);
    else if (result.short) short.add(group.index);
    else reject(of, group.index, result.reason);
  };
  const short = new Set<number>();
  const posted = await post(deps, chunk, fileName, !verified, problem);
  // The records stored have no repeats left (their copy would have failed). A repeat of one not
  // charged is the duplicate of the line reported, not a second call refused; and charged apart,
  // it would roll its transaction back.
  if (posted.some(({ result }) => result !== 'ok')) dropRepeats(chunk, problem);
  for (const outcome of posted) settle(chunk, outcome, short);
  if (short.size === 0) return;
  // Charged apart, records stored before would roll their transaction back too: out first.
  if (!verified) await dropStored(deps, chunk, problem, short);
  // What each organization's credit covers, taken in line order as record by record would take
  // it, from one read of the credit: then one posting for those, not a transaction per record
  // (an organization out of credit early in a large file made that hundreds of thousands).
  const now = deps.clock.now();
  const fitting: number[] = [];
  for (const index of short) {
    const organization = chunk.organizations[index]!;
    const spending = await spendingAccountOf(deps.db, organization).catch((error: unknown) => {
      if (error instanceof RingbillError) return { error };
      throw error;
    });
    if ('error' in spending) {
      reject(chunk, index, spending.error.message);
      continue;
    }
    let left = availableBalance(spending, now);
    for (const record of chunk.live(new Set([index]))) {
      const cost = chunk.costOf(record);
      if (cost > left) refuse(chunk, record, notEnoughCredit(organization));
      else {
        left -= cost;
        fitting.push(record);
      }
    }
  }
  if (fitting.length === 0) return;
  const covered = chunk.subset(fitting.sort((a, b) => a - b));
  const stillShort = new Set<number>();
  for (const posted of await post(deps, covered, fileName, false, problem)) settle(covered, posted, stillShort);
  // Spent meanwhile by someone else: record by record, each charged if it still fits.
  for (const record of [...covered.live(stillShort)]) {
    const alone = covered.subset([record]);
    for (const { group, result } of await post(deps, alone, fileName, false, problem)) {
      if (result === 'ok') rated(group);
      else refuse(alone, 0, result.reason);
    }
  }
}

function notEnoughCredit(organization: Organization): string {
  return `${organization.name} does not have enough usable credit`;
}

/** Why an organization's records of a chunk were not posted (`short`: its credit does not cover them). */
interface Refusal {
  reason: string;
  short: boolean;
}

/** How an organization's records of a chunk fared. */
type Posted = 'ok' | Refusal;

type AccountIds = Awaited<ReturnType<typeof usageAccountIds>>;

/** Account ids never change, so one import looks each organization's up once. */
const accountIds = new WeakMap<ChargingDeps, Map<string, Promise<AccountIds>>>();

function accountCache(deps: ChargingDeps): Map<string, Promise<AccountIds>> {
  let cache = accountIds.get(deps);
  if (!cache) accountIds.set(deps, (cache = new Map()));
  return cache;
}

// Its payment scheme and currency choose the spending account; both may change (before any money moved).
const accountKey = (organization: Organization) => `${organization.id}\u0000${organization.paymentScheme}\u0000${organization.currency}`;

/** Looks up the accounts of organizations met for the first time in one query, so charging them needs none. */
async function prefetchAccounts(deps: ChargingDeps, chunkOrganizations: readonly Organization[]): Promise<void> {
  const cache = accountCache(deps);
  const organizations = chunkOrganizations.filter((organization) => !cache.has(accountKey(organization)));
  if (organizations.length === 0) return;
  const accounts = await listAccountsOfOrganizations(deps.db, organizations.map((organization) => organization.id));
  for (const organization of organizations) {
    const spending = accounts.find((account) => account.organizationId === organization.id && account.code === spendingAccountCode(organization.paymentScheme) && account.currency === organization.currency);
    if (!spending) continue;
    const revenue = deps.ledger.providerAccount('revenue:usage', organization.currency);
    cache.set(accountKey(organization), revenue.then((found) => ({ spendingId: spending.id, revenueId: found.id })));
  }
}

function accountsFor(deps: ChargingDeps, organization: Organization): Promise<AccountIds> {
  const cache = accountCache(deps);
  const key = accountKey(organization);
  let found = cache.get(key);
  if (!found) {
    found = usageAccountIds(deps, organization);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

/** Thrown in a chunk's transaction when postings were refused after its records were copied: it rolls the copy back. */
class Refused extends Error {
  constructor(readonly organizations: ReadonlyMap<number, Refusal>) {
    super('the credit does not cover some organizations’ records');
  }
}

/**
 * Posts each organization's records of the chunk and, in the same transaction, stores the records
 * and charges of those whose posting succeeded; answers each organization's outcome. The records
 * are copied before the postings lock accounts, so that chunks stored at the same time copy at
 * the same time; an organization whose posting is refused (its credit does not cover its records)
 * rolls that back, and the chunk goes again without it.
 */
async function post(deps: ChargingDeps, chunk: PricedChunk, fileName: string | undefined, optimistic: boolean, problem: Problem): Promise<{ group: ChunkGroup; result: Posted }[]> {
  const now = deps.clock.now();
  const groups = chunk.groups();
  const refused = new Map<number, Refusal>();
  for (;;) {
    const found = await Promise.all(
      groups
        .filter((group) => group.amount > 0n && !refused.has(group.index))
        .map(async (group) => {
          try {
            return { group, ...(await accountsFor(deps, group.organization)) };
          } catch (error) {
            if (!(error instanceof RingbillError)) throw error;
            refused.set(group.index, { reason: error.message, short: false });
            return undefined;
          }
        }),
    );
    const paying = found.filter((item) => item !== undefined);
    const commands = paying.map(({ group, spendingId, revenueId }) => ({
      transfers: [
        {
          kind: 'posted' as const,
          debitAccountId: spendingId,
          creditAccountId: revenueId,
          amount: group.amount,
          code: 'usage:cdr',
          metadata: { records: group.records, ...(fileName ? { file: fileName } : {}) },
        },
      ],
    }));
    try {
      await deps.ledger.executeAll(commands, {
        before: async (tx) => {
          for (const piece of chunk.copyPieces((organization) => !refused.has(organization), COPY_PIECE)) {
            await tx.copyFromCsv('usage_records', USAGE_COPY_COLUMNS, piece);
          }
        },
        after: async (tx, outcomes) => {
          const charges: Charge[] = [];
          const short = new Map<number, Refusal>();
          outcomes.forEach((outcome, index) => {
            const { group } = paying[index]!;
            if (outcome.ok) charges.push(...chargesOf(group, fileName, outcome.value.transfers[0]!.id, now));
            else if (outcome.code === 'insufficient_credit') short.set(group.index, { reason: notEnoughCredit(group.organization), short: true });
            else short.set(group.index, { reason: outcome.message, short: false });
          });
          if (short.size > 0) throw new Refused(short);
          await insertCharges(tx, charges);
        },
      });
      return groups.map((group) => ({ group, result: refused.get(group.index) ?? 'ok' }));
    } catch (error) {
      if (error instanceof Refused) {
        for (const [organization, reason] of error.organizations) refused.set(organization, reason);
        continue;
      }
      // COPY fails on a record stored before, and with it the whole transaction.
      if (!isUniqueViolation(error)) throw error;
      // The file repeats a record within the chunk: take out the repeats, and charge the rest again.
      if (dropRepeats(chunk, problem)) return post(deps, chunk, fileName, optimistic, problem);
      if (optimistic) throw new StoredBefore('records of the chunk were stored before');
      // Someone stored some of these records first: take them out, and charge the rest again.
      if (!(await dropStored(deps, chunk, problem))) throw error;
      return post(deps, chunk, fileName, false, problem);
    }
  }
}

/** Records per COPY statement: PGlite's WASM memory grows to the largest input it is handed and never shrinks. */
const COPY_PIECE = 10_000;

/** An organization's charges of a chunk, for the next invoice, pointing at the posting that paid them. */
function chargesOf(group: ChunkGroup, fileName: string | undefined, transferId: string, now: Date): Charge[] {
  return group.charges.map(({ charge, amount, occurredAt }) => ({
    id: charge.id,
    organizationId: group.organization.id,
    kind: chargeKindOf(charge.service),
    description: `${fileName ?? 'CDR file'}: ${charge.service}`,
    amount,
    currency: group.organization.currency,
    billPeriod: charge.billPeriod,
    occurredAt: new Date(occurredAt),
    transferId,
    invoiceId: null,
    createdAt: now,
  }));
}
