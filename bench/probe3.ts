import { openPglite } from '../src/store/pglite-driver.ts';
import { migrate } from '../src/store/migrate.ts';
const db = await openPglite(undefined);
await migrate(db);
const origQuery = db.transaction.bind(db);
const stats = new Map<string, { n: number; ms: number }>();
(db as any).transaction = (w: any) => origQuery(async (tx: any) => {
  const wrapped = { query: async (sql: string, p: any) => { const t = performance.now(); try { return await tx.query(sql, p); } finally { const k = sql.trim().slice(0, 40); const s = stats.get(k) ?? { n: 0, ms: 0 }; s.n++; s.ms += performance.now() - t; stats.set(k, s); } }, exec: tx.exec };
  return w(wrapped);
});
const { Ledger } = await import('../src/ledger/ledger.ts');
const { systemClock } = await import('../src/clock/clock.ts');
const { parseCurrency } = await import('../src/money/index.ts');
const ledger = new Ledger(db, systemClock);
const SGD = parseCurrency('SGD')!;
const ids: string[] = [];
for (let i = 0; i < 1000; i++) { const c = await ledger.createAccount({ organizationId: null, code: 'a' + i, currency: SGD }); if (c.ok) ids.push(c.value.id); }
stats.clear();
let n = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: 32 }, async () => {
  for (let k = 0; k < 100; k++) {
    const d = ids[Math.floor(Math.random() * 1000)]!; let c = ids[Math.floor(Math.random() * 1000)]!; while (c === d) c = ids[Math.floor(Math.random() * 1000)]!;
    await ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: d, creditAccountId: c, amount: 1n, code: 'x' }], idempotencyKey: { scope: 's', key: `${n++}` } });
  }
}));
console.log('total ms', performance.now() - t0);
for (const [k, v] of stats) console.log(k.padEnd(42), v.n, (v.ms / v.n).toFixed(2));
