import type { Charge } from '../billing/charge.ts';
import { insertCharges, insertChargesStatement } from '../billing/charge-store.ts';
import { batchRecord, type BatchRecord, type BatchWriter } from '../ledger/types.ts';
import type { Queryable } from '../store/database.ts';
import type { ChargingSession } from './session.ts';
import { insertSessionsStatement, saveSessionsStatement } from './session-store.ts';
import type { UsageRecord } from './usage-record.ts';
import { insertUsage, insertUsageStatement } from './usage-store.ts';

/**
 * The rows charging writes beside its ledger postings, as batch writers: the ledger writes the
 * rows of all the commands in one of its batches within its own write statement.
 */

/** Someone else moved a session on between our read and our write: read again and redo. */
export class SessionMoved extends Error {}

/** A usage record already stored means the work was done before. */
export class UsageAlreadyRecorded extends Error {}

export const newSessions: BatchWriter<ChargingSession> = {
  statement: (sessions, param) => ({ sql: insertSessionsStatement(sessions, param) }),
};

export interface SessionStep {
  readonly session: ChargingSession;
  /** The version the step was computed from: the write happens only if it is still current. */
  readonly expectedVersion: number;
}

export const sessionSteps: BatchWriter<SessionStep> = {
  statement: (steps, param) => ({
    sql: saveSessionsStatement(steps, param),
    check: (saved) => {
      if (saved !== steps.length) throw new SessionMoved();
    },
  }),
};

const usageRecordsWriter: BatchWriter<UsageRecord> = {
  statement: (records, param) => ({
    sql: insertUsageStatement(records, param),
    check: (inserted) => {
      if (inserted !== records.length) throw new UsageAlreadyRecorded();
    },
  }),
};

const chargesWriter: BatchWriter<Charge> = {
  statement: (rows, param) => ({ sql: insertChargesStatement(rows, param) }),
};

export interface UsageWithCharge {
  readonly record: UsageRecord;
  /** What puts the record on an invoice; none when it cost nothing. */
  readonly charge: Charge | null;
}

/** The batch records of a usage record and its charge. */
export function usageRecords(usage: UsageWithCharge): BatchRecord[] {
  return usage.charge ? [batchRecord(usageRecordsWriter, usage.record), batchRecord(chargesWriter, usage.charge)] : [batchRecord(usageRecordsWriter, usage.record)];
}

/** One usage record with its charge, outside a ledger batch (a usage that moved no money). */
export async function writeUsage(tx: Queryable, usage: UsageWithCharge): Promise<void> {
  const inserted = await insertUsage(tx, [usage.record]);
  if (!inserted.has(usage.record.externalId)) throw new UsageAlreadyRecorded(usage.record.externalId);
  if (usage.charge) await insertCharges(tx, [usage.charge]);
}
