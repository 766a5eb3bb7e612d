import { systemClock } from '../src/clock/clock.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { parseCurrency } from '../src/money/index.ts';
import { openPglite } from '../src/store/pglite-driver.ts';
import { migrate } from '../src/store/migrate.ts';
const db = await openPglite(undefined);
await migrate(db);
const ledger = new Ledger(db, systemClock);
const SGD = parseCurrency('SGD')!;
const ids: string[] = [];
for (let i = 0; i < 1000; i++) { const c = await ledger.createAccount({ organizationId: null, code: 'a' + i, currency: SGD }); if (c.ok) ids.push(c.value.id); }
const orig = db.transaction.bind(db);
let batches = 0, time = 0;
(db as any).transaction = async (w: any) => { const t = performance.now(); try { return await orig(w); } finally { batches++; time += performance.now() - t; } };
const origQuery = db.query.bind(db);
const t0 = performance.now();
let n = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  for (let k = 0; k < 200; k++) {
    const d = ids[Math.floor(Math.random() * 1000)]!; let c = ids[Math.floor(Math.random() * 1000)]!; while (c === d) c = ids[Math.floor(Math.random() * 1000)]!;
    await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: d, creditAccountId: c, amount: 1n, code: 'x' }], idempotencyKey: { scope: 's', key: `${n++}` } });
  }
}));
const total = performance.now() - t0;
console.log({ perSecond: 6400 / (total / 1000), batches, avgBatch: 6400 / batches, msPerBatch: time / batches });
