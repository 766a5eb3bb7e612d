import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { billPeriodOf, type Charge } from '../../billing/charge.ts';
import { insertCharge } from '../../billing/charge-store.ts';
import { newId } from '../../ids.ts';
import type { Currency } from '../../money/index.ts';
import { findOrganizationsByCodes } from '../../organizations/organization-store.ts';
import type { Organization } from '../../organizations/organization.ts';
import { parseWalletId } from '../../organizations/wallet-id.ts';
import { priceCall, priceEvent } from '../../rating/price.ts';
import { timeZoneOf, usageAccounts, type ChargingDeps } from '../charging-deps.ts';
import { chargeKindOf, type UsageRecord } from '../usage-record.ts';
import { existingExternalIds, insertUsage } from '../usage-store.ts';
import type { Cdr, CdrFormat } from './cdr.ts';
import { parseCdrs } from './parse-cdrs.ts';

export interface CdrProblem {
  readonly line: number;
  readonly outcome: 'rejected' | 'duplicate';
  readonly reason: string;
}

export interface CdrReport {
  format: CdrFormat;
  dryRun: boolean;
  lines: number;
  /** Priced and charged (free calls included). */
  rated: number;
  /** Unanswered: nothing to charge. */
  skipped: number;
  rejected: number;
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
}

const CHUNK = 2000;
const MAX_PROBLEMS = 1000;

interface Priced {
  cdr: Cdr;
  organization: Organization;
  record: Omit<UsageRecord, 'chargeId'>;
}

/** A concurrent import stored some of the same records first: check again and redo the group. */
class RecordsTaken extends Error {}

/**
 * Rates a CDR file and charges each organization for its calls, streaming it in chunks. Each
 * line is rated, skipped (unanswered), a duplicate (its record id was rated before, in this file
 * or an earlier one), or rejected with its reason (unreadable, no such organization, no price, not
 * enough credit). Good lines land exactly once, whatever the bad lines are; importing a file
 * twice charges nothing the second time.
 */
export async function rateCdrFile(deps: ChargingDeps, input: Readable, options: RateCdrOptions): Promise<CdrReport> {
  const report: CdrReport = { format: options.format, dryRun: options.dryRun ?? false, lines: 0, rated: 0, skipped: 0, rejected: 0, duplicates: 0, totals: [], problems: [] };
  const organizations = new Map<string, Organization | null>();
  const zones = new Map<string, string>();
  const seen = new Set<string>();
  const totals = new Map<Currency, { amount: bigint; records: number }>();
  const problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => {
    if (outcome === 'rejected') report.rejected++;
    else report.duplicates++;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push({ line, outcome, reason });
  };
  const rated = (priced: Priced) => {
    report.rated++;
    const total = totals.get(priced.record.currency) ?? { amount: 0n, records: 0 };
    totals.set(priced.record.currency, { amount: total.amount + priced.record.cost, records: total.records + 1 });
  };

  let chunk: Cdr[] = [];
  const flush = async () => {
    const cdrs = chunk;
    chunk = [];
    await resolveOrganizations(deps, cdrs, organizations);
    const groups = new Map<string, Priced[]>();
    for (const cdr of cdrs) {
      const organization = organizations.get(cdr.accountCode);
      if (!organization) {
        problem(cdr.line, 'rejected', `no organization has the account code or wallet ID "${cdr.accountCode}"`);
        continue;
      }
      if (organization.status !== 'active') {
        problem(cdr.line, 'rejected', `organization ${organization.name} is ${organization.status}`);
        continue;
      }
      const key = `${organization.id}\u0000${cdr.externalId}`;
      if (seen.has(key)) {
        problem(cdr.line, 'duplicate', `record ${cdr.externalId} appears earlier in this file`);
        continue;
      }
      seen.add(key);
      const found = await deps.rating.planFor(organization, cdr.service, cdr.destination, cdr.startedAt);
      if (!found.ok) {
        problem(cdr.line, 'rejected', found.message);
        continue;
      }
      const price = cdr.service === 'voice' ? priceCall(found.value.plan, cdr.quantity) : priceEvent(found.value.plan, cdr.quantity);
      let zone = zones.get(organization.id);
      if (!zone) zones.set(organization.id, (zone = await timeZoneOf(deps.db, organization)));
      const priced: Priced = {
        cdr,
        organization,
        record: {
          id: newId('usg'),
          organizationId: organization.id,
          service: cdr.service,
          destination: cdr.destination,
          destinationName: found.value.plan.destination,
          prefix: found.value.plan.prefix,
          rateDeckVersionId: found.value.version.id,
          startedAt: cdr.startedAt,
          quantity: cdr.quantity,
          billedQuantity: price.billedSeconds,
          cost: price.cost,
          currency: organization.currency,
          billPeriod: billPeriodOf(cdr.startedAt, zone),
          source: 'cdr',
          externalId: cdr.externalId,
          createdAt: deps.clock.now(),
        },
      };
      const group = groups.get(organization.id);
      if (group) group.push(priced);
      else groups.set(organization.id, [priced]);
    }
    for (const group of groups.values()) {
      const organization = group[0]!.organization;
      const existing = await existingExternalIds(deps.db, organization.id, 'cdr', group.map((priced) => priced.cdr.externalId));
      const fresh: Priced[] = [];
      for (const priced of group) {
        if (existing.has(priced.cdr.externalId)) problem(priced.cdr.line, 'duplicate', `record ${priced.cdr.externalId} was rated before`);
        else fresh.push(priced);
      }
      if (fresh.length === 0) continue;
      if (report.dryRun) {
        fresh.forEach(rated);
        continue;
      }
      const outcome = await charge(deps, fresh, options.fileName);
      for (const priced of outcome.charged) rated(priced);
      for (const { priced, reason, outcome: kind } of outcome.refused) problem(priced.cdr.line, kind, reason);
    }
  };

  for await (const line of parseCdrs(input, { format: options.format, timeZone: options.timeZone }, options.onProgress)) {
    report.lines++;
    if (line.kind === 'malformed') problem(line.line, 'rejected', `malformed: ${line.reason}`);
    else if (line.kind === 'unanswered') report.skipped++;
    else {
      chunk.push(line.cdr);
      if (chunk.length >= CHUNK) await flush();
    }
  }
  if (chunk.length > 0) await flush();
  report.totals = [...totals].map(([currency, total]) => ({ currency, ...total })).sort((a, b) => a.currency.localeCompare(b.currency));
  report.problems.sort((a, b) => a.line - b.line);
  return report;
}

async function resolveOrganizations(deps: ChargingDeps, cdrs: readonly Cdr[], known: Map<string, Organization | null>): Promise<void> {
  const missing = [...new Set(cdrs.map((cdr) => cdr.accountCode))].filter((code) => !known.has(code));
  if (missing.length === 0) return;
  const lookups = missing.flatMap((code) => [code, parseWalletId(code) ?? code]);
  const found = await findOrganizationsByCodes(deps.db, [...new Set(lookups)]);
  for (const code of missing) {
    const wallet = parseWalletId(code);
    known.set(code, found.find((organization) => organization.accountCode === code) ?? found.find((organization) => wallet !== undefined && organization.walletId === wallet) ?? null);
  }
}

/**
 * Charges one organization for a group of fresh records: all in one ledger posting with its usage
 * records and charges, or, when its credit does not cover them all, record by record, so that the
 * ones it can pay for still land.
 */
async function charge(
  deps: ChargingDeps,
  group: readonly Priced[],
  fileName: string | undefined,
): Promise<{ charged: Priced[]; refused: { priced: Priced; reason: string; outcome: CdrProblem['outcome'] }[] }> {
  const whole = await post(deps, group, fileName);
  if (whole === 'ok') return { charged: [...group], refused: [] };
  if (whole === 'taken') return { charged: [], refused: group.map((priced) => ({ priced, reason: `record ${priced.cdr.externalId} was rated before`, outcome: 'duplicate' as const })) };
  const charged: Priced[] = [];
  const refused: { priced: Priced; reason: string; outcome: CdrProblem['outcome'] }[] = [];
  for (const priced of group) {
    const one = await post(deps, [priced], fileName);
    if (one === 'ok') charged.push(priced);
    else if (one === 'taken') refused.push({ priced, reason: `record ${priced.cdr.externalId} was rated before`, outcome: 'duplicate' });
    else refused.push({ priced, reason: one.reason, outcome: 'rejected' });
  }
  return { charged, refused };
}

async function post(deps: ChargingDeps, group: readonly Priced[], fileName: string | undefined): Promise<'ok' | 'taken' | { reason: string }> {
  const organization = group[0]!.organization;
  const { records, charges } = withCharges(group, fileName, deps.clock.now());
  const amount = records.reduce((sum, record) => sum + record.cost, 0n);
  const write = async (tx: Parameters<typeof insertUsage>[0], transferId: string | null) => {
    const inserted = await insertUsage(tx, records);
    if (inserted.size !== records.length) throw new RecordsTaken();
    for (const charge of charges) await insertCharge(tx, { ...charge, transferId });
  };
  try {
    if (amount === 0n) {
      await deps.db.transaction((tx) => write(tx, null));
      return 'ok';
    }
    const { spending, revenue } = await usageAccounts(deps, organization);
    const ids = group.map((priced) => priced.cdr.externalId).sort();
    const result = await deps.ledger.execute({
      transfers: [{ kind: 'posted', debitAccountId: spending.id, creditAccountId: revenue.id, amount, code: 'usage:cdr', metadata: { records: records.length, ...(fileName ? { file: fileName } : {}) } }],
      idempotencyKey: { scope: 'cdr', key: `${organization.id}:${createHash('sha256').update(ids.join('\n')).digest('hex')}` },
      afterWrite: (tx, outcome) => write(tx, outcome.transfers[0]!.id),
    });
    if (result.ok) return result.value.replayed ? 'taken' : 'ok';
    if (result.code === 'insufficient_credit') return { reason: `${organization.name} does not have enough usable credit` };
    return { reason: result.message };
  } catch (error) {
    if (error instanceof RecordsTaken) return 'taken';
    throw error;
  }
}

/** One charge per service and bill period, for the next invoice; each record points at its charge. */
function withCharges(group: readonly Priced[], fileName: string | undefined, now: Date): { records: UsageRecord[]; charges: Charge[] } {
  const charges = new Map<string, Charge>();
  const records = group.map(({ record, organization }) => {
    if (record.cost === 0n) return { ...record, chargeId: null };
    const key = `${record.service}|${record.billPeriod}`;
    let charge = charges.get(key);
    if (!charge) {
      charge = {
        id: newId('chg'),
        organizationId: organization.id,
        kind: chargeKindOf(record.service),
        description: `${fileName ?? 'CDR file'}: ${record.service}`,
        amount: 0n,
        currency: organization.currency,
        billPeriod: record.billPeriod,
        occurredAt: record.startedAt,
        transferId: null,
        invoiceId: null,
        createdAt: now,
      };
      charges.set(key, charge);
    }
    charges.set(key, { ...charge, amount: charge.amount + record.cost, occurredAt: charge.occurredAt < record.startedAt ? charge.occurredAt : record.startedAt });
    return { ...record, chargeId: charge.id };
  });
  return { records, charges: [...charges.values()] };
}
