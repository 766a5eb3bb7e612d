import type { Job } from '../jobs/scheduler.ts';
import type { Ledger } from './ledger.ts';

/** Releases holds whose timeout has passed, at the instant they timed out. */
export function expireHoldsJob(ledger: Ledger): Job {
  return {
    name: 'expire_holds',
    nextDueAt: () => ledger.nextHoldTimeout(),
    async run() {
      let total = 0;
      // Bounded batches; a backlog drains over several rounds.
      for (let round = 0; round < 100; round++) {
        const expired = await ledger.expireTimedOutHolds(1000);
        total += expired;
        if (expired < 1000) break;
      }
      return total;
    },
  };
}
