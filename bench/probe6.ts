import { openPglite } from '../src/store/pglite-driver.ts';
import { migrate } from '../src/store/migrate.ts';
const db = await openPglite(undefined);
await migrate(db);
async function time(label: string, n: number, f: (i: number) => Promise<unknown>) {
  const t = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  console.log(label.padEnd(50), ((performance.now() - t) / n).toFixed(3), 'ms');
}
await time('select 1', 300, () => db.query('select 1'));
await time('select $1::int', 300, (i) => db.query('select $1::int', [i]));
await time('select * from unnest($1::text[])', 300, (i) => db.query('select * from unnest($1::text[])', [['a', 'b']]));
await time('select where id = any(text[]) (empty table)', 300, (i) => db.query('SELECT id FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [['a', 'b']]));
await time('begin/commit via transaction()', 300, () => db.transaction(async () => undefined));
await time('idempotency lookup 1 key', 300, (i) => db.query(`SELECT i.scope FROM idempotency_keys i JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON i.scope = k.scope AND i.key = k.key`, [['s'], [`k${i}`]]));
