import { failure } from '../errors.ts';
import type { Job } from '../jobs/scheduler.ts';
import { MAX_CALL_SECONDS } from '../rating/price.ts';
import type { ChargingDeps } from './charging-deps.ts';
import { findExpiredSessions, nextSessionExpiry } from './session-store.ts';
import { terminateSession } from './update-session.ts';

/**
 * Ends sessions the switch stopped updating for their TTL (three intervals): the call is charged
 * for all the time it was granted, since the switch may have let it run that long, and the rest of
 * the hold is released.
 */
export function expireSessionsJob(deps: ChargingDeps, onProblem: (error: Error) => void = () => undefined): Job {
  return {
    name: 'expire_sessions',
    nextDueAt: () => nextSessionExpiry(deps.db),
    async run() {
      const ids = await findExpiredSessions(deps.db, deps.clock.now(), 1000);
      // Ended all at once, as calls are: the ledger writes them in a few batches, where one at a
      // time (a switch that crashed with thousands of calls up) took a batch each.
      // Seconds are capped at the grant, so asking for the longest call charges all the time it
      // was granted, without reading the session here as well as in terminateSession.
      // One that throws is reported like one refused, not let stop the others (nor the test clock).
      const ended = await Promise.all(
        ids.map((id) => terminateSession(deps, { sessionId: id, usedSeconds: MAX_CALL_SECONDS, reason: 'expired' }).catch((error: unknown) => failure('internal_error', (error as Error).message))),
      );
      // One that could not be ended (the ledger's queue full, say) is tried again at the next
      // poll; said here so that a session that keeps failing does not go unseen.
      ended.forEach((result, i) => {
        if (!result.ok) onProblem(new Error(`expired session ${ids[i]} could not be ended: ${result.code}: ${result.message}`));
      });
      return ended.filter((result) => result.ok && result.value.endReason === 'expired').length;
    },
  };
}
