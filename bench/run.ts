// `npm run bench -- NAME`: speed targets live here, never in timed tests. Every figure is
// printed beside a baseline measured in the same run on the same machine.
import { ledgerBench } from './ledger.ts';
import { organizationsBench } from './organizations.ts';
import { ratingBench } from './rating.ts';
import { chargingBench } from './charging.ts';
import { benchDatabases, machine } from './support.ts';

const benches: Record<string, (seconds: number) => Promise<unknown>> = {
  ledger: (seconds) => ledgerBench(benchDatabases(), seconds),
  organizations: () => organizationsBench(benchDatabases()),
  rating: () => ratingBench(benchDatabases()),
  charging: (seconds) => chargingBench(benchDatabases(), seconds, Number(process.env.BENCH_ROUNDS ?? 3)),
};

const name = process.argv[2];
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
console.log(`${name} benchmark, ${new Date().toISOString().slice(0, 10)}, ${machine()}, ${seconds} s per measurement`);
await bench(seconds);
