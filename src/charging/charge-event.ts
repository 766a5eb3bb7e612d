import { failure, type ErrorCode, type Result } from '../errors.ts';
import type { Organization } from '../organizations/organization.ts';
import { priceEvent } from '../rating/price.ts';
import type { Service } from '../rating/rate-plan.ts';
import { timeZoneOf, usageAccountIds, usageWithCharge, type ChargingDeps } from './charging-deps.ts';
import { UsageAlreadyRecorded, usageRecords, writeUsage, type UsageWithCharge } from './charging-records.ts';
import type { UsageRecord } from './usage-record.ts';
import { findUsageByExternalId } from './usage-store.ts';

export interface EventRequest {
  organization: Organization;
  service: Exclude<Service, 'voice'>;
  /** Priced by prefix where the deck says so (SMS); may be empty (fax, activation). */
  destination: string;
  /** Messages, pages, activations. */
  quantity: number;
  /** The caller's id for the event: the same id again is charged once. */
  eventId: string;
}

/** Charges an SMS, fax or number activation at once, or refuses with `insufficient_credit`. */
export async function chargeEvent(deps: ChargingDeps, request: EventRequest): Promise<Result<{ usage: UsageRecord; replayed: boolean }, ErrorCode>> {
  const { organization } = request;
  const existing = await findUsageByExternalId(deps.db, organization.id, 'event', request.eventId);
  if (existing) return replayOf(existing, request);
  if (organization.status !== 'active') return failure('organization_not_active');
  if (!Number.isInteger(request.quantity) || request.quantity < 1) return failure('invalid_input', 'quantity must be a whole number of at least 1');
  const now = deps.clock.now();
  const found = await deps.rating.planFor(organization, request.service, request.destination, now);
  if (!found.ok) return found;
  const price = priceEvent(found.value.plan, request.quantity);
  const { spendingId, revenueId } = await usageAccountIds(deps, organization);
  const timeZone = await timeZoneOf(deps, organization);
  const usageFor = (transferId: string | null) =>
    usageWithCharge(
      {
        organizationId: organization.id,
        service: request.service,
        destination: request.destination,
        destinationName: found.value.plan.destination,
        prefix: found.value.plan.prefix,
        rateDeckVersionId: found.value.version.id,
        startedAt: now,
        quantity: request.quantity,
        billedQuantity: price.billedSeconds,
        cost: price.cost,
        source: 'event',
        externalId: request.eventId,
      },
      organization,
      timeZone,
      transferId,
      now,
    );
  if (price.cost === 0n) {
    const usage = usageFor(null);
    try {
      await deps.db.transaction((tx) => writeUsage(tx, usage));
    } catch (error) {
      // A concurrent request with the same event id recorded it first: answer as a replay.
      if (!(error instanceof UsageAlreadyRecorded)) throw error;
      return replayOf((await findUsageByExternalId(deps.db, organization.id, 'event', request.eventId))!, request);
    }
    return { ok: true, value: { usage: usage.record, replayed: false } };
  }
  // The rows of the attempt that committed: the ledger asks for them on every attempt that runs the command.
  let written: UsageWithCharge | undefined;
  const result = await deps.ledger.execute({
    transfers: [{ kind: 'posted', debitAccountId: spendingId, creditAccountId: revenueId, amount: price.cost, code: `usage:${request.service}`, metadata: { eventId: request.eventId } }],
    idempotencyKey: { scope: 'charging', key: `event:${organization.id}:${request.eventId}` },
    records: (outcome) => {
      written = usageFor(outcome.transfers[0]!.id);
      return usageRecords(written);
    },
  });
  if (!result.ok && result.code !== 'idempotency_conflict') return failure(result.code, result.message);
  if (!result.ok || result.value.replayed || !written) {
    // Charged by a concurrent request with the same event id (the ledger's conflict means it
    // asked for something else: the stored record says what).
    const stored = await findUsageByExternalId(deps.db, organization.id, 'event', request.eventId);
    if (!stored) return failure('idempotency_conflict', `event ${request.eventId} is being charged by another request; send it again for its answer`);
    return replayOf(stored, request);
  }
  return { ok: true, value: { usage: written.record, replayed: false } };
}

/**
 * The same event id again answers the first charge; with another service, destination or
 * quantity it is refused, as a reused Idempotency-Key is: answering the first charge would
 * tell the sender its other event was charged.
 */
function replayOf(stored: UsageRecord, request: EventRequest): Result<{ usage: UsageRecord; replayed: boolean }, ErrorCode> {
  if (stored.service === request.service && stored.destination === request.destination && stored.quantity === request.quantity) {
    return { ok: true, value: { usage: stored, replayed: true } };
  }
  const charged = `${stored.quantity} ${stored.service}${stored.destination ? ` to ${stored.destination}` : ''}`;
  return failure('idempotency_conflict', `event ${request.eventId} was charged as ${charged}; this request asks for something else`);
}
