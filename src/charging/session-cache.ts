import type { ChargingSession } from './session.ts';

const MAX_ENTRIES = 50_000;

/**
 * Live sessions as this process last wrote them, so that the switch's next update or terminate
 * need not read the row first. An entry may be stale (another process moved the session on, or
 * ended it): each step writes only if the session's version is still the one it was computed
 * from, and a step that does not go through from a cached session is redone from the database.
 */
export class SessionCache {
  private readonly entries = new Map<string, ChargingSession>();
  /** Per session, the end of the steps this process has under way for it. */
  private readonly queues = new Map<string, Promise<void>>();

  /**
   * Runs a step of a session after the steps of it already under way in this process: steps sent
   * at once for one call (a switch retrying an update while its terminate goes out) then each
   * see the last one's session, where racing they could make each other start again until one
   * gave up. Steps of other processes are still met by the version check.
   */
  inTurn<T>(id: string, step: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(id) ?? Promise.resolve()).then(step);
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, done);
    void done.then(() => {
      if (this.queues.get(id) === done) this.queues.delete(id);
    });
    return run;
  }

  /** A session past its expiry is not served: the expiry job may be ending it. */
  get(id: string, now: Date): ChargingSession | undefined {
    const session = this.entries.get(id);
    if (session && session.expiresAt.getTime() <= now.getTime()) {
      this.entries.delete(id);
      return undefined;
    }
    return session;
  }

  remember(session: ChargingSession): void {
    this.entries.delete(session.id);
    if (session.state === 'ended') return;
    // Maps iterate in insertion order: the first key is the session least recently written.
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(session.id, session);
  }

  forget(id: string): void {
    this.entries.delete(id);
  }
}
