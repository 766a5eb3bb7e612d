/**
 * Answers kept for a while per key, as promises: the callers that arrive while one is being
 * worked out share that one piece of work instead of each starting their own, and a failed one
 * is forgotten at once.
 */
export class ExpiringCache<Key, Value> {
  private readonly entries = new Map<Key, { until: number; value: Promise<Value> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: Key, load: () => Promise<Value>): Promise<Value> {
    const now = Date.now();
    const found = this.entries.get(key);
    if (found && found.until > now) return found.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const entry = { until: now + this.ttlMs, value: load() };
    entry.value.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    this.entries.set(key, entry);
    return entry.value;
  }

  clear(): void {
    this.entries.clear();
  }
}
