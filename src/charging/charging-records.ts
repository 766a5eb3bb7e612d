import type { Charge } from '../billing/charge.ts';
import { insertCharges } from '../billing/charge-store.ts';
import type { BatchWriter } from '../ledger/types.ts';
import type { Queryable } from '../store/database.ts';
import type { ChargingSession } from './session.ts';
import { insertSessions, saveSessions } from './session-store.ts';
import type { UsageRecord } from './usage-record.ts';
import { insertUsage } from './usage-store.ts';

/**
 * The rows charging writes beside its ledger postings, as batch writers: the ledger writes the
 * rows of all the commands in one of its batches with one statement per table.
 */

/** Someone else moved a session on between our read and our write: read again and redo. */
export class SessionMoved extends Error {}

/** A usage record already stored means the work was done before. */
export class UsageAlreadyRecorded extends Error {}

export const newSessions: BatchWriter<ChargingSession> = {
  write: (tx, sessions) => insertSessions(tx, sessions),
};

export interface SessionStep {
  readonly session: ChargingSession;
  /** The version the step was computed from: the write happens only if it is still current. */
  readonly expectedVersion: number;
}

export const sessionSteps: BatchWriter<SessionStep> = {
  async write(tx, steps) {
    if ((await saveSessions(tx, steps)) !== steps.length) throw new SessionMoved();
  },
};

export interface UsageWithCharge {
  readonly record: UsageRecord;
  /** What puts the record on an invoice; none when it cost nothing. */
  readonly charge: Charge | null;
}

export const usageWithCharges: BatchWriter<UsageWithCharge> = {
  async write(tx, usages) {
    const inserted = await insertUsage(
      tx,
      usages.map((usage) => usage.record),
    );
    const missing = usages.find((usage) => !inserted.has(usage.record.externalId));
    if (missing) throw new UsageAlreadyRecorded(missing.record.externalId);
    await insertCharges(
      tx,
      usages.flatMap((usage) => (usage.charge ? [usage.charge] : [])),
    );
  },
};

/** One usage record with its charge, outside a ledger batch (a usage that moved no money). */
export function writeUsage(tx: Queryable, usage: UsageWithCharge): Promise<void> {
  return usageWithCharges.write(tx, [usage]);
}
