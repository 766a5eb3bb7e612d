import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seedEnvironmentOperatorKey } from '../src/auth/api-keys.ts';
import { systemClock } from '../src/clock/clock.ts';
import { unwrap } from '../src/errors.ts';
import { buildApp } from '../src/http/app.ts';
import { parseCurrency } from '../src/money/index.ts';
import { accountsOf } from '../src/organizations/organization-accounts.ts';
import { createOrganization } from '../src/organizations/create-organization.ts';
import { importRateDeck } from '../src/rating/import-rate-deck.ts';
import { createServices } from '../src/services.ts';
import { baseline } from './ledger.ts';
import type { BenchDatabase } from './support.ts';

const KEY = 'rb_op_bench_operator_key_0000000000';
const SGD = parseCurrency('SGD')!;
const DECK = readFileSync(new URL('../test/fixtures/rate-deck.csv', import.meta.url), 'utf8');

function load(spec: { url: string; organizations: string[]; concurrency: number; seconds: number }): Promise<{ pairs: number; seconds: number; errors: number; p50: number; p99: number }> {
  const script = fileURLToPath(new URL('./charging-load.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ ...spec, key: KEY, warmupSeconds: Math.min(3, spec.seconds) })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(text.trim().split('\n').at(-1)!)) : reject(new Error(`load generator exited with ${code}`))));
  });
}

export async function chargingBench(databases: BenchDatabase[], seconds: number): Promise<void> {
  const lines: string[] = [];
  for (const database of databases) {
    const { db, close } = await database.open();
    try {
      const services = createServices(db, systemClock);
      await seedEnvironmentOperatorKey(db, systemClock, KEY);
      unwrap(await importRateDeck(services, DECK, { name: 'retail', effectiveFrom: new Date('2026-01-01T00:00:00Z'), makeDefault: true }));
      const bank = await services.ledger.providerAccount('bank', SGD);
      const organizations: string[] = [];
      for (let i = 0; i < 1001; i++) {
        const organization = unwrap(await createOrganization(services, { name: `Caller ${i}`, currency: 'SGD', actor: 'bench' }));
        const accounts = await accountsOf(db, organization);
        unwrap(await services.ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: accounts.credit.id, amount: 1_000_000_000_000n, code: 'topup' }] }));
        organizations.push(organization.id);
      }
      const app = await buildApp({ services });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      console.log(`  ${database.name}: 64 calls over 1,000 organizations...`);
      const spread = await load({ url, organizations: organizations.slice(0, 1000), concurrency: 64, seconds });
      console.log(`  ${database.name}: 50 calls on one organization...`);
      const one = await load({ url, organizations: [organizations[1000]!], concurrency: 50, seconds });
      await app.close();
      console.log(`  ${database.name}: baselines...`);
      const uniform = await baseline(db, 'uniform', seconds, 64);
      const hot = await baseline(db, 'hot', seconds, 50);
      const row = (label: string, result: Awaited<ReturnType<typeof load>>, base: number, baseLabel: string) =>
        `${database.name.padEnd(10)}  ${label.padEnd(34)}  ${String(Math.round(result.pairs / result.seconds)).padStart(6)} pairs/s  ${(result.pairs / result.seconds / base).toFixed(2)}x ${baseLabel} (${Math.round(base)}/s)  authorize p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms${result.errors ? `, ${result.errors} errors` : ''}`;
      lines.push(row('64 calls over 1,000 organizations', spread, uniform, 'uniform UPDATE'), row('50 calls on one organization', one, hot, 'hot UPDATE'));
    } finally {
      await close();
    }
  }
  console.log(`\nauthorize + terminate pairs over HTTP, ${seconds} s each; baselines: UPDATE accounts SET balance = balance + $1 WHERE id = $2 at the same concurrency`);
  for (const line of lines) console.log(line);
}
