import { systemClock } from '../src/clock/clock.ts';
import { getCredits } from '../src/organizations/get-credits.ts';
import { findOrganization } from '../src/organizations/organization-store.ts';
import { searchOrganizationsByText } from '../src/organizations/search-organizations.ts';
import { newWalletId } from '../src/organizations/wallet-id.ts';
import { createServices } from '../src/services.ts';
import type { Database } from '../src/store/database.ts';
import { mulberry32, type BenchDatabase } from './support.ts';

const ORGANIZATIONS = Number(process.env.BENCH_ORGANIZATIONS ?? 100_000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1000);

// Made-up words from about 400 syllables: 100,000 names as varied as real company names, where a
// distinctive fragment matches a handful of organizations (a vocabulary of 20 syllables would make
// every fragment match hundreds, which no provider's customer list looks like).
const SYLLABLES = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'dr', 'tr']
  .flatMap((onset) => ['a', 'e', 'i', 'o', 'u'].flatMap((vowel) => ['', 'n', 'r', 'l'].map((coda) => onset + vowel + coda)));
const KINDS = ['Telecom', 'Trading', 'Logistics', 'Systems', 'Holdings', 'Media', 'Foods', 'Clinic', 'Networks', 'Studio'];
const SUFFIXES = ['Pte Ltd', 'Ltd', 'LLC', 'GmbH', 'Sdn Bhd', 'Inc'];

function word(random: () => number): string {
  const length = 2 + Math.floor(random() * 3);
  let text = '';
  for (let i = 0; i < length; i++) text += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
  return text[0]!.toUpperCase() + text.slice(1);
}

interface Seeded {
  ids: string[];
  walletIds: string[];
  names: string[];
}

/** Bulk-loads organizations with their accounts and profiles in SQL: the domain path would take an hour. */
async function seed(db: Database): Promise<Seeded> {
  const random = mulberry32(42);
  const seeded: Seeded = { ids: [], walletIds: [], names: [] };
  const wallets = new Set<string>();
  const chunk = 5000;
  for (let start = 0; start < ORGANIZATIONS; start += chunk) {
    const ids: string[] = [];
    const walletIds: string[] = [];
    const names: string[] = [];
    for (let i = start; i < Math.min(ORGANIZATIONS, start + chunk); i++) {
      ids.push(crypto.randomUUID());
      let wallet = newWalletId((max) => Math.floor(random() * max));
      while (wallets.has(wallet)) wallet = newWalletId((max) => Math.floor(random() * max));
      wallets.add(wallet);
      walletIds.push(wallet);
      names.push(`${word(random)} ${KINDS[Math.floor(random() * KINDS.length)]} ${SUFFIXES[Math.floor(random() * SUFFIXES.length)]}`);
    }
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO organizations (id, wallet_id, name, currency, payment_scheme, invoice_setup, status, created_at)
         SELECT id, wallet_id, name, 'SGD', 'prepaid', 'consolidated', 'active', now() FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, wallet_id, name)`,
        [ids, walletIds, names],
      );
      await tx.query(`INSERT INTO billing_profiles (organization_id, company_name, updated_at) SELECT id, name, now() FROM unnest($1::uuid[], $2::text[]) AS v(id, name)`, [ids, names]);
      await tx.query(
        `INSERT INTO ledger_accounts (id, organization_id, code, currency, debits_must_not_exceed_credits, overdraft_limit, created_at)
         SELECT 'acc_' || replace(o.id::text, '-', '') || '_' || c.code, o.id, c.code, 'SGD', c.code IN ('credit', 'funds', 'unbilled'),
                CASE WHEN c.code = 'credit' THEN (o.n % 100) * 1000000 ELSE 0 END, now()
         FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, n), unnest(ARRAY['credit', 'funds', 'receivable', 'unbilled']) AS c(code)`,
        [ids],
      );
    });
    seeded.ids.push(...ids);
    seeded.walletIds.push(...walletIds);
    seeded.names.push(...names);
  }
  await db.exec('ANALYZE organizations; ANALYZE ledger_accounts; ANALYZE billing_profiles; ANALYZE charges');
  return seeded;
}

async function latencies(samples: number, run: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(50, samples); i++) await run(i);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await run(i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(samples * 0.5)]!, p99: times[Math.floor(samples * 0.99)]! };
}

export interface LatencyRow {
  database: string;
  operation: string;
  p50: number;
  p99: number;
  ratio: number;
}

export async function organizationsBench(databases: BenchDatabase[]): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const database of databases) {
    const { db, close } = await database.open();
    try {
      console.log(`  ${database.name}: loading ${ORGANIZATIONS.toLocaleString('en')} organizations...`);
      const data = await seed(db);
      const services = createServices(db, systemClock);
      const random = mulberry32(7);
      const pick = () => Math.floor(random() * data.ids.length);
      // A distinctive part of a name, as someone types it: 5 letters from inside its first word.
      const fragment = () => {
        const first = data.names[pick()]!.split(' ')[0]!;
        const from = Math.floor(random() * Math.max(1, first.length - 5));
        return first.slice(from, from + 5).toLowerCase();
      };
      const measure = async (operation: string, run: (i: number) => Promise<unknown>) => {
        console.log(`  ${database.name}: ${operation}...`);
        return { operation, ...(await latencies(SAMPLES, run)) };
      };
      const baseline = await measure('primary-key SELECT (baseline)', () => db.query('SELECT * FROM organizations WHERE id = $1', [data.ids[pick()]!]));
      const measured = [
        await measure('search by name fragment', () => searchOrganizationsByText(db, { text: fragment(), limit: 50 })),
        await measure('search by a common word ("telecom")', () => searchOrganizationsByText(db, { text: 'telecom', limit: 50 })),
        await measure('search by UUID', () => searchOrganizationsByText(db, { text: data.ids[pick()]!, limit: 50 })),
        await measure('search by wallet ID', () => searchOrganizationsByText(db, { text: data.walletIds[pick()]!, limit: 50 })),
        await measure('credits view', async () => getCredits(services, (await findOrganization(db, data.ids[pick()]!))!)),
      ];
      for (const row of [baseline, ...measured]) rows.push({ database: database.name, ...row, ratio: row.p99 / baseline.p99 });
    } finally {
      await close();
    }
  }
  console.log(`\nlatency in ms over ${SAMPLES} calls each, ${ORGANIZATIONS.toLocaleString('en')} organizations; ratio = p99 / baseline p99`);
  const header = ['database', 'operation', 'p50', 'p99', 'p99 x baseline'];
  const lines = rows.map((row) => [row.database, row.operation, row.p50.toFixed(3), row.p99.toFixed(3), `${row.ratio.toFixed(2)}x`]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  return rows;
}

