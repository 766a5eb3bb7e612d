import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/clock/clock.ts';
import { Scheduler, type Job } from '../../src/jobs/scheduler.ts';

/** A job with work due at fixed instants, recording the clock's time whenever it handles one. */
function jobAt(name: string, clock: TestClock, dueTimes: Date[], log: string[]): Job {
  const pending = [...dueTimes].sort((a, b) => a.getTime() - b.getTime());
  return {
    name,
    nextDueAt: async () => pending[0],
    async run() {
      let handled = 0;
      while (pending[0] && pending[0].getTime() <= clock.now().getTime()) {
        log.push(`${name}@${clock.now().toISOString()}`);
        pending.shift();
        handled++;
      }
      return handled;
    },
  };
}

describe('scheduler', () => {
  it('advances a test clock through each due instant, in order', async () => {
    const clock = new TestClock(new Date('2026-11-01T00:00:00Z'));
    const log: string[] = [];
    const at = (iso: string) => new Date(iso);
    const scheduler = new Scheduler(clock, [
      jobAt('holds', clock, [at('2026-11-01T00:01:00Z'), at('2026-11-03T00:00:00Z')], log),
      jobAt('limits', clock, [at('2026-11-02T00:00:00Z'), at('2026-12-01T00:00:00Z')], log),
    ]);
    const runs = await scheduler.advanceTo(at('2026-11-05T00:00:00Z'));
    expect(log).toEqual(['holds@2026-11-01T00:01:00.000Z', 'limits@2026-11-02T00:00:00.000Z', 'holds@2026-11-03T00:00:00.000Z']);
    expect(runs).toEqual([
      { name: 'holds', handled: 2 },
      { name: 'limits', handled: 1 },
    ]);
    expect(clock.now().toISOString()).toBe('2026-11-05T00:00:00.000Z');
  });

  it('stops at every due instant even when a run started before the clock moved, and takes two advances one after the other', async () => {
    const clock = new TestClock(new Date('2026-11-01T00:00:00Z'));
    const log: string[] = [];
    const dues = Array.from({ length: 5 }, (_, i) => new Date(Date.UTC(2026, 10, 1, 0, 0, i + 1)));
    const job = jobAt('sessions', clock, dues, log);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    // The first run (a poll, say) reads the time, then takes a while.
    const scheduler = new Scheduler(clock, [{ ...job, run: async () => (first ? ((first = false), await slow, 0) : job.run()) }]);
    const polling = scheduler.runDue();
    const advances = [scheduler.advanceTo(new Date('2026-11-01T00:00:03Z')), scheduler.advanceTo(new Date('2026-11-01T01:00:00Z'))];
    release();
    await polling;
    const [firstAdvance, secondAdvance] = await Promise.all(advances);
    expect(log).toEqual(dues.map((due) => `sessions@${due.toISOString()}`));
    expect([firstAdvance![0]!.handled, secondAdvance![0]!.handled]).toEqual([3, 2]);
  });

  it('refuses to move a test clock back', async () => {
    const clock = new TestClock(new Date('2026-11-01T00:00:00Z'));
    const scheduler = new Scheduler(clock, []);
    await expect(scheduler.advanceTo(new Date('2026-10-01T00:00:00Z'))).rejects.toThrow(RangeError);
  });

  it('shares one run between concurrent callers', async () => {
    const clock = new TestClock();
    let runs = 0;
    const scheduler = new Scheduler(clock, [{ name: 'x', nextDueAt: async () => undefined, run: async () => ++runs }]);
    await Promise.all([scheduler.runDue(), scheduler.runDue(), scheduler.runDue()]);
    expect(runs).toBe(1);
  });
});
