import type { RatePlan, RateRow, Service } from './rate-plan.ts';

const ALL_DIGITS = /^\d*$/;

interface PriceVersion {
  readonly from: number;
  /** Until when the version is in force; +Infinity when open. */
  readonly to: number;
  readonly plan: RatePlan;
}

/**
 * A deck version held in memory for lookups: for each service, a map from prefix to the price
 * versions of that prefix (newest first). A number is matched by trying its prefixes from the
 * longest, so a lookup is at most one map probe per digit.
 */
export class CompiledDeck {
  private readonly services = new Map<Service, Map<string, PriceVersion[]>>();
  private readonly longest = new Map<Service, number>();

  constructor(rows: readonly RateRow[]) {
    const grouped = new Map<string, RateRow[]>();
    for (const row of rows) {
      const key = `${row.service}\u0000${row.prefix}\u0000${row.effectiveFrom.getTime()}`;
      const group = grouped.get(key);
      if (group) group.push(row);
      else grouped.set(key, [row]);
    }
    for (const group of grouped.values()) {
      const sorted = [...group].sort((a, b) => a.intervalStartSeconds - b.intervalStartSeconds);
      const head = sorted[0]!;
      let prefixes = this.services.get(head.service);
      if (!prefixes) this.services.set(head.service, (prefixes = new Map()));
      const versions = prefixes.get(head.prefix) ?? [];
      versions.push({
        from: head.effectiveFrom.getTime(),
        to: head.effectiveTo?.getTime() ?? Number.POSITIVE_INFINITY,
        plan: { prefix: head.prefix, destination: head.destination, rows: sorted },
      });
      versions.sort((a, b) => b.from - a.from);
      prefixes.set(head.prefix, versions);
      this.longest.set(head.service, Math.max(this.longest.get(head.service) ?? 0, head.prefix.length));
    }
  }

  /** The rate plan for `number` at `at`: the longest prefix with a price in force then. */
  plan(service: Service, number: string, at: Date): RatePlan | undefined {
    const prefixes = this.services.get(service);
    if (!prefixes) return undefined;
    const digits = ALL_DIGITS.test(number) ? number : number.replace(/[^\d]/g, '');
    const time = at.getTime();
    for (let length = Math.min(digits.length, this.longest.get(service) ?? 0); length >= 0; length--) {
      const versions = prefixes.get(length === digits.length ? digits : digits.slice(0, length));
      if (!versions) continue;
      for (const version of versions) {
        if (version.from <= time && time < version.to) return version.plan;
      }
    }
    return undefined;
  }

  get size(): number {
    let total = 0;
    for (const prefixes of this.services.values()) total += prefixes.size;
    return total;
  }
}
