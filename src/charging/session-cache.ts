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
