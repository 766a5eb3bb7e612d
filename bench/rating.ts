import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { systemClock } from '../src/clock/clock.ts';
import { unwrap } from '../src/errors.ts';
import { createOrganization } from '../src/organizations/create-organization.ts';
import { accountsOf } from '../src/organizations/organization-accounts.ts';
import { parseCurrency } from '../src/money/index.ts';
import { importRateDeck } from '../src/rating/import-rate-deck.ts';
import { loadCompiledDeck } from '../src/rating/rate-deck-store.ts';
import { createServices } from '../src/services.ts';
import { mulberry32, type BenchDatabase } from './support.ts';

const PREFIXES = Number(process.env.BENCH_PREFIXES ?? 300_000);
const CDRS = Number(process.env.BENCH_CDRS ?? 1_000_000);
const ORGANIZATIONS = 1000;
const SGD = parseCurrency('SGD')!;

/** A deck of `count` distinct prefixes of 3 to 8 digits, under 1 to 999 country codes. */
function generateDeck(count: number, random: () => number): { csv: string; prefixes: string[] } {
  const prefixes = new Set<string>();
  while (prefixes.size < count) {
    const length = 3 + Math.floor(random() * 6);
    let prefix = String(1 + Math.floor(random() * 9));
    while (prefix.length < length) prefix += Math.floor(random() * 10);
    prefixes.add(prefix);
  }
  const list = [...prefixes];
  const lines = ['prefix,destination,rate,increments,connect_fee'];
  for (const prefix of list) {
    const increments = random() < 0.5 ? '60/60' : random() < 0.5 ? '1/1' : '30/6';
    lines.push(`${prefix},Destination ${prefix},0.${String(Math.floor(random() * 100000)).padStart(5, '0')},${increments},${random() < 0.1 ? '0.01' : '0'}`);
  }
  return { csv: lines.join('\n'), prefixes: list };
}

/** Writes Asterisk Master.csv lines for calls to numbers under the deck's prefixes, in pieces. */
function writeCdrs(file: string, count: number, prefixes: readonly string[], random: () => number): void {
  const fd = openSync(file, 'w');
  let out: string[] = [];
  const base = Date.UTC(2026, 10, 1);
  for (let i = 0; i < count; i++) {
    let number = prefixes[Math.floor(random() * prefixes.length)]!;
    while (number.length < 11) number += Math.floor(random() * 10);
    const start = new Date(base + Math.floor(random() * 28 * 86_400) * 1000);
    const billsec = random() < 0.15 ? 0 : 1 + Math.floor(random() * 600);
    const stamp = (date: Date) => date.toISOString().slice(0, 19).replace('T', ' ');
    const end = new Date(start.getTime() + (billsec + 5) * 1000);
    out.push(
      `"ORG${Math.floor(random() * ORGANIZATIONS)}","6531230001","${number}","from-internal","""Desk"" <6531230001>","PJSIP/101-1","PJSIP/trunk-2","Dial","PJSIP/${number}@trunk,60","${stamp(start)}","${stamp(start)}","${stamp(end)}",${billsec + 5},${billsec},"${billsec ? 'ANSWERED' : 'NO ANSWER'}","DOCUMENTATION","${1762000000 + i}.${i}",""`,
    );
    if (out.length === 10_000) {
      writeSync(fd, `${out.join('\n')}\n`);
      out = [];
    }
  }
  if (out.length > 0) writeSync(fd, `${out.join('\n')}\n`);
  closeSync(fd);
}

/** Runs `ringbill cdrs rate` on the file, watching the child's memory high-water mark. */
function rateWithCli(file: string, env: NodeJS.ProcessEnv): Promise<{ seconds: number; peakBytes: number; report: { rated: number; skipped: number; rejected: number; problems: unknown[] } }> {
  const bin = fileURLToPath(new URL('../bin/ringbill.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [bin, 'cdrs', 'rate', file, '--format', 'asterisk', '--timezone', 'UTC', '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    let peak = 0;
    const watch = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (match) peak = Math.max(peak, Number(match[1]) * 1024);
      } catch {
        // The child has exited.
      }
    }, 50);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(watch);
      if (code !== 0 && code !== 2) return reject(new Error(`ringbill cdrs rate exited with ${code}`));
      resolve({ seconds: (performance.now() - start) / 1000, peakBytes: peak, report: JSON.parse(output) });
    });
  });
}

export async function ratingBench(databases: BenchDatabase[]): Promise<void> {
  const random = mulberry32(11);
  console.log(`  generating a ${PREFIXES.toLocaleString('en')}-prefix deck and ${CDRS.toLocaleString('en')} CDRs...`);
  const deck = generateDeck(PREFIXES, random);
  const dir = mkdtempSync(path.join(tmpdir(), 'ringbill-rating-'));
  const cdrFile = path.join(dir, 'Master.csv');
  writeCdrs(cdrFile, CDRS, deck.prefixes, random);
  const lines: string[] = [];
  try {
    for (const database of databases) {
      const opened = await database.open();
      const db = opened.db;
      try {
        const services = createServices(db, systemClock);
        // The longest the event loop waited during the import: how long a live call on the same
        // server would have waited for its answer.
        const delay = monitorEventLoopDelay({ resolution: 10 });
        delay.enable();
        let start = performance.now();
        const imported = unwrap(await importRateDeck(services, deck.csv, { name: 'bench', effectiveFrom: new Date('2026-01-01T00:00:00Z'), makeDefault: true }));
        const importSeconds = (performance.now() - start) / 1000;
        delay.disable();
        const compileDelay = monitorEventLoopDelay({ resolution: 10 });
        compileDelay.enable();

        // In-memory lookups beside a plain Map.get loop over as many keys.
        const compiled = await loadCompiledDeck(db, imported.version.id);
        compileDelay.disable();
        const numbers = Array.from({ length: 200_000 }, () => {
          let number = deck.prefixes[Math.floor(random() * deck.prefixes.length)]!;
          while (number.length < 11) number += Math.floor(random() * 10);
          return number;
        });
        const at = new Date('2026-11-15T00:00:00Z');
        start = performance.now();
        let found = 0;
        for (const number of numbers) if (compiled.plan('voice', number, at)) found++;
        const lookups = numbers.length / ((performance.now() - start) / 1000);
        const map = new Map(deck.prefixes.map((prefix) => [prefix, prefix]));
        start = performance.now();
        let hits = 0;
        for (const number of numbers) if (map.get(number.slice(0, 6)) !== undefined) hits++;
        const mapGets = numbers.length / ((performance.now() - start) / 1000);
        if (found !== numbers.length || hits < 0) throw new Error('a generated number found no price');

        for (let i = 0; i < ORGANIZATIONS; i++) {
          const organization = unwrap(await createOrganization(services, { name: `Bench ${i}`, currency: 'SGD', accountCode: `ORG${i}`, actor: 'bench' }));
          const accounts = await accountsOf(db, organization);
          const bank = await services.ledger.providerAccount('bank', SGD);
          unwrap(await services.ledger.execute({ transfers: [{ kind: 'posted', debitAccountId: bank.id, creditAccountId: accounts.credit.id, amount: 1_000_000_000_000n, code: 'topup' }] }));
        }

        // Each of the two runs starts after a checkpoint, so that neither pays for the other's
        // writes being flushed.
        await db.exec('CHECKPOINT');
        // Rate and store the CDRs with `ringbill cdrs rate`, in a process of its own, so that its
        // memory is the import's and nothing else's.
        const run = await opened.lend(() => rateWithCli(cdrFile, opened.env));
        const report = run.report;
        const rateSeconds = run.seconds;
        const peak = run.peakBytes;
        if (report.rejected > 0) throw new Error(`rejected ${report.rejected} lines: ${JSON.stringify(report.problems.slice(0, 3))}`);
        const copyDb = opened.db;

        // Baseline: COPY of the same records into a table of the same shape: its columns, indexes
        // and checks (LIKE ... INCLUDING ALL), and its foreign keys, which LIKE leaves out and
        // which COPY checks row by row (about a fifth of its time on the server).
        await copyDb.exec('CREATE TABLE bench_usage_copy (LIKE usage_records INCLUDING ALL)');
        const foreignKeys = await copyDb.query<{ definition: string }>("SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = 'usage_records'::regclass AND contype = 'f'");
        for (const { definition } of foreignKeys.rows) await copyDb.exec(`ALTER TABLE bench_usage_copy ADD ${definition}`);
        const columns = ['id', 'organization_id', 'service', 'destination', 'destination_name', 'prefix', 'rate_deck_version_id', 'started_at', 'quantity', 'billed_quantity', 'cost', 'currency', 'bill_period', 'source', 'external_id', 'charge_id', 'created_at'];
        const rows = await copyDb.query<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM usage_records`);
        const csv = rows.rows
          .map((row) => columns.map((column) => {
            const value = row[column];
            if (value === null) return '';
            const text = value instanceof Date ? value.toISOString() : String(value);
            return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
          }).join(','))
          .join('\n');
        await copyDb.exec('CHECKPOINT');
        start = performance.now();
        await copyDb.copyFromCsv('bench_usage_copy', columns, `${csv}\n`);
        const copySeconds = (performance.now() - start) / 1000;
        const stored = report.rated;
        const rate = stored / rateSeconds;
        const copyRate = rows.rows.length / copySeconds;
        lines.push(
          `${database.name}: deck of ${PREFIXES.toLocaleString('en')} prefixes imported in ${importSeconds.toFixed(1)} s (${Math.round(PREFIXES / importSeconds).toLocaleString('en')} rows/s), the event loop held at most ${Math.round(delay.max / 1e6)} ms at a time; compiled for pricing with the loop held at most ${Math.round(compileDelay.max / 1e6)} ms`,
          `${database.name}: prefix lookups ${Math.round(lookups).toLocaleString('en')}/s beside Map.get ${Math.round(mapGets).toLocaleString('en')}/s (${(lookups / mapGets).toFixed(2)}x)`,
          `${database.name}: ${CDRS.toLocaleString('en')} CDRs (${report.rated.toLocaleString('en')} rated, ${report.skipped.toLocaleString('en')} unanswered) by \`ringbill cdrs rate\` in ${rateSeconds.toFixed(1)} s (start-up included): ${Math.round(rate).toLocaleString('en')} records/s beside COPY ${Math.round(copyRate).toLocaleString('en')} rows/s (${(rate / copyRate).toFixed(2)}x); its peak RSS ${Math.round(peak / 2 ** 20)} MiB`,
        );
        console.log(lines.slice(-3).join('\n'));
      } finally {
        await opened.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${lines.join('\n')}`);
}
