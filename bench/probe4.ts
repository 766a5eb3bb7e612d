import { openPglite } from '../src/store/pglite-driver.ts';
const db = await openPglite(undefined);
await db.exec(`create table t (id text primary key, kind text, state text, d text, c text, amount bigint, cur text, pid text, ta timestamptz, ra timestamptz, code text, cmd text, meta jsonb, created timestamptz)`);
const rows = (k: number) => Array.from({ length: 32 }, (_, i) => ({ id: `id${k}_${i}`, kind: 'posted', state: 'posted', d: 'acc_x', c: 'acc_y', amount: '100', cur: 'SGD', pid: null, ta: null, ra: null, code: 'x', cmd: 'cmd', meta: null, created: new Date().toISOString() }));
let t = performance.now();
for (let k = 0; k < 200; k++) {
  const r = rows(k);
  await db.query(`insert into t select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::jsonb[], $14::timestamptz[])`,
   [r.map(x=>x.id), r.map(x=>x.kind), r.map(x=>x.state), r.map(x=>x.d), r.map(x=>x.c), r.map(x=>x.amount), r.map(x=>x.cur), r.map(x=>x.pid), r.map(x=>x.ta), r.map(x=>x.ra), r.map(x=>x.code), r.map(x=>x.cmd), r.map(x=>x.meta), r.map(x=>x.created)]);
}
console.log('unnest arrays ms', (performance.now() - t) / 200);
t = performance.now();
for (let k = 200; k < 400; k++) {
  const r = rows(k);
  await db.query(`insert into t select * from jsonb_to_recordset($1::jsonb) as x(id text, kind text, state text, d text, c text, amount bigint, cur text, pid text, ta timestamptz, ra timestamptz, code text, cmd text, meta jsonb, created timestamptz)`, [JSON.stringify(r)]);
}
console.log('jsonb_to_recordset ms', (performance.now() - t) / 200);
t = performance.now();
for (let k = 400; k < 600; k++) {
  const r = rows(k);
  await db.query(`insert into t select * from json_populate_recordset(null::t, $1::json)`, [JSON.stringify(r)]);
}
console.log('json_populate_recordset ms', (performance.now() - t) / 200);
