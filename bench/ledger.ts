import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seedEnvironmentOperatorKey } from '../src/auth/api-keys.ts';
import { systemClock } from '../src/clock/clock.ts';
import { buildApp } from '../src/http/app.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { verifyLedger } from '../src/ledger/verify-ledger.ts';
import { parseCurrency } from '../src/money/index.ts';
import { createServices } from '../src/services.ts';
import type { Database } from '../src/store/database.ts';
import { type BenchDatabase, printTable, type Row } from './support.ts';

const CONNECTIONS = 32;
const ACCOUNTS = 1000;
const KEY = 'rb_op_bench_operator_key_0000000000';
const SGD = parseCurrency('SGD')!;

type Workload = 'uniform' | 'hot';

/** Runs `worker` on `concurrency` loops for `seconds`; answers operations per second. */
async function closedLoop(concurrency: number, seconds: number, worker: () => Promise<boolean>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) if (await worker()) done++;
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

/** The baseline every posting figure is set beside: a plain UPDATE of one row, from `concurrency` clients. */
export async function baseline(db: Database, workload: Workload, seconds: number, concurrency = CONNECTIONS): Promise<number> {
  await db.exec('DROP TABLE IF EXISTS bench_accounts; CREATE TABLE bench_accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0)');
  await db.query('INSERT INTO bench_accounts (id) SELECT generate_series(1, $1::int)', [ACCOUNTS]);
  return closedLoop(concurrency, seconds, async () => {
    const id = workload === 'hot' ? 1 : 1 + Math.floor(Math.random() * ACCOUNTS);
    await db.query('UPDATE bench_accounts SET balance = balance + $1 WHERE id = $2', [1, id]);
    return true;
  });
}

async function makeAccounts(ledger: Ledger): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const created = await ledger.createAccount({ organizationId: null, code: `bench:${i}:${Date.now()}`, currency: SGD });
    if (!created.ok) throw new Error(created.message);
    ids.push(created.value.id);
  }
  return ids;
}

function pair(accounts: string[], workload: Workload): [string, string] {
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  const debit = pick();
  let credit = workload === 'hot' ? accounts[0]! : pick();
  while (credit === debit) credit = pick();
  return [debit, credit];
}

async function inProcess(ledger: Ledger, accounts: string[], workload: Workload, seconds: number): Promise<number> {
  let n = 0;
  return closedLoop(CONNECTIONS, seconds, async () => {
    const [debitAccountId, creditAccountId] = pair(accounts, workload);
    const result = await ledger.execute({
      transfers: [{ kind: 'posted', debitAccountId, creditAccountId, amount: 10_000n, code: 'bench' }],
      idempotencyKey: { scope: 'bench', key: `inproc-${Date.now()}-${n++}` },
    });
    return result.ok;
  });
}

async function overHttp(url: string, accounts: string[], workload: Workload, seconds: number): Promise<number> {
  const spec = { url, key: KEY, accounts, hotAccount: workload === 'hot' ? accounts[0]! : null, seconds, connections: CONNECTIONS };
  const script = fileURLToPath(new URL('./http-load.ts', import.meta.url));
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`load generator exited with ${code}`))));
  });
  const result = JSON.parse(output.trim().split('\n').at(-1)!) as { ok: number; non2xx: number; errors: number; seconds: number };
  if (result.non2xx > 0 || result.errors > 0) console.warn(`  warning: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result.ok / result.seconds;
}

export async function ledgerBench(databases: BenchDatabase[], seconds: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const database of databases) {
    const { db, close } = await database.open();
    try {
      const services = createServices(db, systemClock);
      await seedEnvironmentOperatorKey(db, systemClock, KEY);
      const accounts = await makeAccounts(services.ledger);
      const app = await buildApp({ services });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      for (const workload of ['uniform', 'hot'] as const) {
        console.log(`  ${database.name}, ${workload}: baseline...`);
        const base = await baseline(db, workload, seconds);
        console.log(`  ${database.name}, ${workload}: in-process ledger...`);
        const ledger = await inProcess(services.ledger, accounts, workload, seconds);
        console.log(`  ${database.name}, ${workload}: HTTP...`);
        const http = await overHttp(url, accounts, workload, seconds);
        rows.push({ database: database.name, workload, baseline: base, measurements: { 'in-process ledger': ledger, HTTP: http } });
      }
      await app.close();
      const report = await verifyLedger(db);
      if (!report.ok) throw new Error(`the ledger does not balance after the benchmark:\n${report.problems.join('\n')}`);
    } finally {
      await close();
    }
  }
  printTable('postings/s, 32 concurrent clients; baseline = UPDATE accounts SET balance = balance + $1 WHERE id = $2', rows);
  return rows;
}
