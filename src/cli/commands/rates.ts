import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { exportRateDeck, versionToExport } from '../../rating/export-rate-deck.ts';
import { deckName, importRateDeck, storeRateDecks } from '../../rating/import-rate-deck.ts';
import { findDeckByName, listVersions, type RateDeck, type RateDeckVersion } from '../../rating/rate-deck-store.ts';
import { versionTakingOver } from '../../rating/rating.ts';
import type { Services } from '../../services.ts';
import { readCgratesTariffPlan } from '../../rating/import-cgrates.ts';
import { notAnIsoTime, parseIsoTime } from '../../rating/parse-rate-deck.ts';
import { parseCurrency } from '../../money/index.ts';
import { CliError, dataDirOption, printable, withServices } from '../context.ts';

function isoTime(value: string): Date {
  const parsed = parseIsoTime(value);
  if (!parsed) throw new CliError(`--effective-from: ${notAnIsoTime(value)}`, 2);
  return parsed;
}

/**
 * When a version just imported is in force, said plainly where another version takes over from
 * it: one dated before the version in force prices only the calls before that one's date.
 */
async function inForce(services: Services, deck: RateDeck, version: RateDeckVersion): Promise<string> {
  const from = `in force from ${version.effectiveFrom.toISOString()}`;
  const next = versionTakingOver(await listVersions(services.db, deck.id), version);
  if (!next) return from;
  const until = `${from} until ${next.effectiveFrom.toISOString()}, when version ${next.version} takes over`;
  return next.effectiveFrom <= services.clock.now() ? `${until} (it prices only calls before then; date it after that version to price calls from now on)` : until;
}

const importDeck = new Command('import')
  .description('import a rate deck (Ringbill CSV) as a new version of the named deck; nothing is stored if any row is bad')
  .argument('<file>', 'the CSV file')
  .requiredOption('--name <name>', 'the deck’s name (a new version if it exists)')
  .option('--effective-from <iso>', 'when the version comes into force (default: its earliest row’s date, else now)')
  .option('--currency <code>', 'the deck’s currency (default: none, prices in each organization’s currency)')
  .option('--default', 'make it the provider’s default deck')
  .addOption(dataDirOption())
  .action(async (file: string, options: { name: string; effectiveFrom?: string; currency?: string; default?: boolean; dataDir?: string }) => {
    const csv = readCsv(file);
    const currency = options.currency === undefined ? undefined : parseCurrency(options.currency);
    if (options.currency !== undefined && !currency) throw new CliError(`--currency: "${options.currency}" is not an ISO 4217 code`, 2);
    // An empty value (an unset variable in `--effective-from "$DATE"`) is refused, not taken for now.
    const effectiveFrom = options.effectiveFrom === undefined ? undefined : isoTime(options.effectiveFrom);
    await withServices(options, 'rates import', async (services) => {
      const imported = await importRateDeck(services, csv, {
        name: options.name,
        ...(effectiveFrom ? { effectiveFrom } : {}),
        ...(currency ? { currency } : {}),
        makeDefault: options.default ?? false,
        source: file,
      });
      if (!imported.ok) {
        for (const detail of imported.details ?? []) console.error(`${file}:${String(detail.line)}: ${printable(String(detail.field))}: ${printable(String(detail.message))}`);
        throw new CliError(imported.message, 2);
      }
      const { deck, version } = imported.value;
      console.log(`${deck.name}: version ${version.version} (${version.id}), ${version.rowCount} rows, ${await inForce(services, deck, version)}${deck.isDefault ? ', the default deck' : ''}`);
    });
  });

const importCgrates = new Command('import-cgrates')
  .description('import a CGRateS tariff plan folder: one deck per rating plan; refused whole if anything cannot be mapped')
  .argument('<dir>', 'the folder with Destinations.csv, Rates.csv, DestinationRates.csv, RatingPlans.csv, RatingProfiles.csv')
  .option('--default', 'make the (single) imported deck the provider’s default')
  .addOption(dataDirOption())
  .action(async (dir: string, options: { default?: boolean; dataDir?: string }) => {
    const read = readCgratesTariffPlan(dir);
    if (!read.ok) {
      for (const problem of read.problems) console.error(`  ${printable(problem)}`);
      throw new CliError(`${read.problems.length} thing(s) in ${dir} cannot be mapped; nothing was imported`, 2);
    }
    if (options.default && read.decks.length > 1) throw new CliError(`--default: ${dir} has ${read.decks.length} rating plans (${read.decks.map((deck) => deck.name).join(', ')}); import it without --default and choose the default deck`, 2);
    await withServices(options, 'rates import-cgrates', async (services) => {
      // One transaction: a plan refused (its name) stores none of the others.
      const stored = await storeRateDecks(
        services,
        read.decks.map((deck) => ({ rows: deck.rows, input: { name: deck.name, effectiveFrom: deck.effectiveFrom, makeDefault: options.default ?? false, source: dir } })),
      );
      if (!stored.ok) throw new CliError(`${stored.message}; nothing was imported`, 2);
      for (const [i, { deck, version }] of stored.value.entries()) {
        console.log(`${deck.name}: version ${version.version}, ${read.decks[i]!.rows.length} rows, ${await inForce(services, deck, version)}`);
      }
    });
  });

const exportDeck = new Command('export')
  .description('write a version of a rate deck as CSV in the import format (importing it gives the same prices)')
  .argument('<name>', 'the deck’s name')
  // Not --version: the program's own option, which prints Ringbill's version, would take it.
  .option('--deck-version <n>', 'the version number (default: the one in force now, else the newest)')
  .option('--output <file>', 'write to this file instead of standard output')
  .addOption(dataDirOption())
  .action(async (name: string, options: { deckVersion?: string; output?: string; dataDir?: string }) => {
    const number = options.deckVersion === undefined ? undefined : Number(options.deckVersion);
    if (number !== undefined && !(Number.isSafeInteger(number) && number >= 1)) throw new CliError(`--deck-version: "${options.deckVersion}" is not a version number`, 2);
    await withServices(options, 'rates export', async (services) => {
      const deck = await findDeckByName(services.db, deckName(name));
      if (!deck) throw new CliError(`no rate deck is named "${name}"`, 2);
      const version = versionToExport(await listVersions(services.db, deck.id), { ...(number ? { version: number } : {}), at: services.clock.now() });
      if (!version) throw new CliError(`${name} has no version ${number ?? ''}`.trim(), 2);
      try {
        await pipeline(Readable.from(exportRateDeck(services.db, version.id)), options.output ? createWriteStream(options.output) : process.stdout);
      } catch (error) {
        if (options.output && (error as NodeJS.ErrnoException).syscall) throw new CliError(`${options.output}: ${(error as Error).message}`, 1);
        throw error;
      }
      if (options.output) console.error(`${name}: version ${version.version}, ${version.rowCount} rows, written to ${options.output}`);
    });
  });

function readCsv(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`, 2);
  }
}

export const ratesCommand = new Command('rates').description('rate decks').addCommand(importDeck).addCommand(importCgrates).addCommand(exportDeck);

