/** The one source of time. Nothing else reads the system clock or asks the database for now(). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/**
 * A clock that only moves when told to, like Stripe's test clocks. It starts at the time it
 * is given (or the real time) and never goes backwards.
 */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves to `to`; refuses to go back, since holds and limits already expired cannot un-expire. */
  set(to: Date): void {
    if (to.getTime() < this.current) throw new RangeError(`the test clock cannot go back from ${this.now().toISOString()} to ${to.toISOString()}`);
    this.current = to.getTime();
  }

  advanceSeconds(seconds: number): void {
    this.set(new Date(this.current + seconds * 1000));
  }
}

export function addSeconds(time: Date, seconds: number): Date {
  return new Date(time.getTime() + seconds * 1000);
}
