import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';

/**
 * Long work written as a generator that yields wherever it may pause (every few thousand rows of
 * a deck), and two ways to run it: to the end at once (the CLI, tests), or in turns of the event
 * loop (the server), so that live calls and other requests are answered while a big deck is read.
 */
export type Steps<T> = Generator<void, T, void>;

/**
 * Waits for the next turn of the event loop, after its timers and I/O. Awaiting a query is not
 * enough on PGlite: it runs in this thread and answers without such a turn, so a loop of queries
 * held every request that arrived meanwhile until its end.
 */
export function nextTurn(): Promise<void> {
  return setImmediate();
}

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs `steps` in slices of about `sliceMs` of the thread each, letting the event loop take its
 * timers and I/O between them. A slice ends only where the work yields, so each yield should
 * come after a few milliseconds of work at most.
 */
export async function runInTurns<T>(steps: Steps<T>, sliceMs = 10): Promise<T> {
  const takeTurn = turnTaker(sliceMs);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await takeTurn();
  }
}

/**
 * For a loop of awaited work (a CDR file streamed in): called once per round, it answers a turn
 * of the event loop once `sliceMs` have passed since the last, else nothing to wait for.
 */
export function turnTaker(sliceMs = 10): () => Promise<void> | undefined {
  let sliceStart = performance.now();
  return () => {
    if (performance.now() - sliceStart < sliceMs) return undefined;
    return nextTurn().then(() => {
      sliceStart = performance.now();
    });
  };
}
