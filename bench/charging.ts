import Fastify from 'fastify';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { seedEnvironmentOperatorKey } from '../src/auth/api-keys.ts';
import { systemClock } from '../src/clock/clock.ts';
import { unwrap } from '../src/errors.ts';
import { buildApp } from '../src/http/app.ts';
import { newId } from '../src/ids.ts';
import { parseCurrency } from '../src/money/index.ts';
import { accountsOf } from '../src/organizations/organization-accounts.ts';
import { createOrganization } from '../src/organizations/create-organization.ts';
import { importRateDeck } from '../src/rating/import-rate-deck.ts';
import { createServices } from '../src/services.ts';
import type { Database } from '../src/store/database.ts';
import { baseline } from './ledger.ts';
import type { BenchDatabase } from './support.ts';

const KEY = 'rb_op_bench_operator_key_0000000000';
const SGD = parseCurrency('SGD')!;
const DECK = readFileSync(new URL('../test/fixtures/rate-deck.csv', import.meta.url), 'utf8');

interface LoadResult {
  pairs: number;
  seconds: number;
  errors: number;
  p50: number;
  p99: number;
  generatorCpuSeconds: number;
  /** This process's CPU time over the counted part: the server, and on PGlite its database too. */
  serverCpuSeconds: number;
  /** A PostgreSQL server's processes' CPU time over the counted part (NaN where not measured). */
  databaseCpuSeconds: number;
}

/** CPU seconds each process has used so far, by pid. */
type ProcessCpu = Map<number, number>;

function load(spec: { url: string; organizations: string[]; concurrency: number; seconds: number }, databaseCpu?: () => Promise<ProcessCpu>): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./charging-load.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ ...spec, key: KEY, warmupSeconds: Math.min(3, spec.seconds) })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    let cpuBefore: NodeJS.CpuUsage | undefined;
    let cpu: NodeJS.CpuUsage | undefined;
    let databaseBefore: Promise<ProcessCpu> | undefined;
    let databaseAfter: Promise<ProcessCpu> | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!cpuBefore && text.includes('counting\n')) {
        cpuBefore = process.cpuUsage();
        databaseBefore = databaseCpu?.();
      }
      // The result line comes the moment the counted part ends.
      if (cpuBefore && !cpu && text.trimEnd().endsWith('}')) {
        cpu = process.cpuUsage(cpuBefore);
        databaseAfter = databaseCpu?.();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      const result = JSON.parse(text.trim().split('\n').at(-1)!) as Omit<LoadResult, 'serverCpuSeconds' | 'databaseCpuSeconds'>;
      const serverCpuSeconds = cpu ? (cpu.user + cpu.system) / 1e6 : Number.NaN;
      Promise.all([databaseBefore, databaseAfter]).then(([before, after]) => {
        resolve({ ...result, serverCpuSeconds, databaseCpuSeconds: before && after ? cpuBetween(before, after) : Number.NaN });
      }, reject);
    });
  });
}

/** CPU used between two readings: a process that started in between counts from its start, one that ended is lost. */
function cpuBetween(before: ProcessCpu, after: ProcessCpu): number {
  let seconds = 0;
  for (const [pid, used] of after) seconds += used - (before.get(pid) ?? 0);
  return seconds;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * The CPU time of a PostgreSQL server's processes (its backends and its writers), read from
 * /proc: only for a server on this machine, where it shares the cores with the benchmark.
 */
function postgresCpu(db: Database, url: string): (() => Promise<ProcessCpu>) | undefined {
  if (process.platform !== 'linux' || !['localhost', '127.0.0.1', '::1', '[::1]', ''].includes(new URL(url).hostname)) return undefined;
  return async () => {
    const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity');
    const cpu: ProcessCpu = new Map();
    for (const { pid } of rows) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // utime and stime, the 14th and 15th fields; the 2nd, the command, may hold spaces.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
      } catch {
        // Ended since the query.
      }
    }
    return cpu;
  };
}

/** CPU time per pair, in microseconds. */
function perPair(cpuSeconds: number, pairs: number): string {
  return pairs > 0 && Number.isFinite(cpuSeconds) ? `${Math.round((cpuSeconds / pairs) * 1e6)} µs` : '-';
}

/**
 * The ceiling HTTP alone sets on this machine: the same load against a server whose two routes
 * answer at once, with no database, no rating and no ledger.
 */
async function httpFloor(seconds: number): Promise<string> {
  const app = Fastify();
  app.post('/v1/charging/sessions', async (_request, reply) => reply.code(201).send({ id: newId('ses'), grantedSeconds: 60 }));
  app.post('/v1/charging/sessions/:id/terminate', async () => ({ cost: '0.010000', billedSeconds: 30 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const result = await load({ url, organizations: ['00000000-0000-4000-8000-000000000000'], concurrency: 64, seconds });
    return (
      `${'HTTP alone'.padEnd(10)}  ${'64 calls, answered at once'.padEnd(34)}  ${String(Math.round(result.pairs / result.seconds)).padStart(6)} pairs/s` +
      `  CPU per pair: server ${perPair(result.serverCpuSeconds, result.pairs)}, load generator ${perPair(result.generatorCpuSeconds, result.pairs)}`
    );
  } finally {
    await app.close();
  }
}

type Round = LoadResult & { rate: number; base: number };

/** The median round by its ratio to its own baseline, with every round's ratio beside it. */
function describe(database: string, label: string, baselineLabel: string, rounds: readonly Round[]): string {
  const ratio = (round: Round) => round.rate / round.base;
  const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const errors = rounds.reduce((sum, round) => sum + round.errors, 0);
  const databasePart = database === 'PGlite' ? '' : `, database ${perPair(median.databaseCpuSeconds, median.pairs)}`;
  return (
    `${database.padEnd(10)}  ${label.padEnd(34)}  ${String(Math.round(median.rate)).padStart(6)} pairs/s  ${ratio(median).toFixed(2)}x ${baselineLabel} UPDATE (${Math.round(median.base)}/s)` +
    `  [${rounds.map((round) => ratio(round).toFixed(2)).join(', ')}]  authorize p50 ${median.p50.toFixed(1)} ms, p99 ${median.p99.toFixed(1)} ms` +
    `  CPU per pair: server ${perPair(median.serverCpuSeconds, median.pairs)}${databasePart}, load generator ${perPair(median.generatorCpuSeconds, median.pairs)}` +
    `${ceiling(median, database === 'PGlite')}${errors ? `, ${errors} errors` : ''}`
  );
}

/**
 * The most pairs the machine's cores could serve at the round's CPU time per pair, were every
 * core busy all the time: the bound a ratio target meets or not whatever the scheduling. Unknown
 * when a server's database CPU is not measured (a server on another machine).
 */
function ceiling(round: Round, databaseInServer: boolean): string {
  const perPairSeconds = (round.serverCpuSeconds + (databaseInServer ? 0 : round.databaseCpuSeconds) + round.generatorCpuSeconds) / round.pairs;
  if (!(perPairSeconds > 0) || !Number.isFinite(perPairSeconds)) return '';
  const cores = os.availableParallelism();
  const pairs = cores / perPairSeconds;
  return `; all ${cores} cores busy: ${Math.round(pairs)} pairs/s, ${(pairs / round.base).toFixed(2)}x`;
}

export async function chargingBench(databases: BenchDatabase[], seconds: number, rounds: number): Promise<void> {
  console.log('  HTTP alone: the same load against routes that answer at once...');
  const lines: string[] = [await httpFloor(seconds)];
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
      const databaseCpu = database.url ? postgresCpu(db, database.url) : undefined;
      const app = await buildApp({ services });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      // Each load right beside its baseline, round after round: on a shared machine the speed
      // drifts over a minute, and a baseline taken at the end would be set beside other weather.
      // Which of the two goes first alternates, so that neither always runs in the wake of the
      // other (the server's background writes after a load, say).
      const workloads = [
        { label: '64 calls over 1,000 organizations', organizations: organizations.slice(0, 1000), concurrency: 64, baseline: 'uniform' as const, rounds: [] as Round[] },
        { label: '50 calls on one organization', organizations: [organizations[1000]!], concurrency: 50, baseline: 'hot' as const, rounds: [] as Round[] },
      ];
      for (let round = 1; round <= rounds; round++) {
        for (const workload of workloads) {
          console.log(`  ${database.name}, round ${round}/${rounds}: ${workload.label} and its baseline...`);
          const measureLoad = () => load({ url, organizations: workload.organizations, concurrency: workload.concurrency, seconds }, databaseCpu);
          const measureBaseline = () => baseline(db, workload.baseline, seconds, workload.concurrency);
          let result: LoadResult;
          let base: number;
          if (round % 2 === 1) {
            result = await measureLoad();
            base = await measureBaseline();
          } else {
            base = await measureBaseline();
            result = await measureLoad();
          }
          workload.rounds.push({ ...result, rate: result.pairs / result.seconds, base });
        }
      }
      await app.close();
      for (const workload of workloads) lines.push(describe(database.name, workload.label, workload.baseline, workload.rounds));
    } finally {
      await close();
    }
  }
  console.log(`\nauthorize + terminate pairs over HTTP, ${seconds} s each, ${rounds} rounds (median round, by ratio; all ratios in brackets); baselines: UPDATE accounts SET balance = balance + $1 WHERE id = $2 at the same concurrency, beside each load (after it in odd rounds, before it in even ones); CPU per pair: this process (the server, and PGlite with it), a PostgreSQL server on this machine and the load generator's, over the counted seconds; all cores busy: the pairs/s (and ratio) that CPU per pair allows at most`);
  for (const line of lines) console.log(line);
}
