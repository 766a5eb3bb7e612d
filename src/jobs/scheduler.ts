import type { Clock } from '../clock/clock.ts';
import { TestClock } from '../clock/clock.ts';

/** Work that falls due at known instants: hold expiry now; credit-limit expiry, bill runs later. */
export interface Job {
  readonly name: string;
  /** The earliest instant this job has work, or undefined when it has none. */
  nextDueAt(): Promise<Date | undefined>;
  /** Does everything due at or before the clock's now; answers how many items it handled. */
  run(): Promise<number>;
}

export interface JobRun {
  readonly name: string;
  readonly handled: number;
}

/** Bounds one advance of the test clock, so a job that keeps rescheduling itself cannot spin forever. */
const MAX_STEPS_PER_ADVANCE = 10_000;

/**
 * Runs due work. In a server it polls every second; correctness never depends on the poll,
 * because every rule that expires (a hold, a temporary credit limit) is also checked at the
 * moment it is used. With a test clock, `advanceTo` walks time forward from one due instant
 * to the next, so work runs in the order it fell due, as Stripe's test clocks do.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<JobRun[]> | undefined;
  /** Advances of a test clock, one after another: two at once would each move the other's clock. */
  private advancing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    private readonly jobs: readonly Job[],
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Runs every job once (all that is due now); concurrent callers share one run. */
  runDue(): Promise<JobRun[]> {
    if (!this.running) {
      this.running = (async () => {
        const runs: JobRun[] = [];
        for (const job of this.jobs) runs.push({ name: job.name, handled: await job.run() });
        return runs;
      })().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /**
   * Moves a test clock to `target`, stopping at each instant where work falls due. A function
   * is called with the clock's time once the advances before it are done, so that "a minute from
   * now" sent beside "an hour from now" means a minute after that hour, not a minute back.
   */
  advanceTo(target: Date | ((now: Date) => Date)): Promise<JobRun[]> {
    const advanced = this.advancing.then(() => this.advanceNow(target));
    this.advancing = advanced.catch(() => undefined);
    return advanced;
  }

  /** A run that starts after the clock moved: a run already going read the time before. */
  private async runFromNow(): Promise<JobRun[]> {
    await this.running?.catch(() => undefined);
    return this.runDue();
  }

  private async advanceNow(to: Date | ((now: Date) => Date)): Promise<JobRun[]> {
    if (!(this.clock instanceof TestClock)) throw new Error('only a test clock can be advanced');
    const clock = this.clock;
    const target = typeof to === 'function' ? to(clock.now()) : to;
    if (target.getTime() < clock.now().getTime()) throw new RangeError('the test clock cannot go back');
    const totals = new Map<string, number>();
    const tally = (runs: JobRun[]) => runs.forEach((run) => totals.set(run.name, (totals.get(run.name) ?? 0) + run.handled));
    tally(await this.runFromNow());
    for (let step = 0; step < MAX_STEPS_PER_ADVANCE; step++) {
      const due = await this.nextDueAt();
      if (!due || due.getTime() > target.getTime()) break;
      if (due.getTime() > clock.now().getTime()) clock.set(due);
      const runs = await this.runFromNow();
      tally(runs);
      if (runs.every((run) => run.handled === 0) && due.getTime() <= clock.now().getTime()) break;
    }
    clock.set(target);
    tally(await this.runFromNow());
    return this.jobs.map((job) => ({ name: job.name, handled: totals.get(job.name) ?? 0 }));
  }

  private async nextDueAt(): Promise<Date | undefined> {
    let earliest: Date | undefined;
    for (const job of this.jobs) {
      const due = await job.nextDueAt();
      if (due && (!earliest || due < earliest)) earliest = due;
    }
    return earliest;
  }

  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => {
      this.runDue().catch(this.onError);
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
