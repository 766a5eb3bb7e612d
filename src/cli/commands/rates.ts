import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { importRateDeck, storeRateDeck } from '../../rating/import-rate-deck.ts';
import { readCgratesTariffPlan } from '../../rating/import-cgrates.ts';
import { parseCurrency } from '../../money/index.ts';
import { CliError, dataDirOption, withServices } from '../context.ts';

function isoTime(value: string): Date {
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new CliError(`--effective-from: "${value}" is not an ISO 8601 time`, 2);
  return parsed;
}

const importDeck = new Command('import')
  .description('import a rate deck (Ringbill CSV) as a new version of the named deck; nothing is stored if any row is bad')
  .argument('<file>', 'the CSV file')
  .requiredOption('--name <name>', 'the deck’s name (a new version if it exists)')
  .option('--effective-from <iso>', 'when the version comes into force (default: now)')
  .option('--currency <code>', 'the deck’s currency (default: none, prices in each organization’s currency)')
  .option('--default', 'make it the provider’s default deck')
  .addOption(dataDirOption())
  .action(async (file: string, options: { name: string; effectiveFrom?: string; currency?: string; default?: boolean; dataDir?: string }) => {
    const csv = readCsv(file);
    const currency = options.currency === undefined ? undefined : parseCurrency(options.currency);
    if (options.currency !== undefined && !currency) throw new CliError(`--currency: "${options.currency}" is not an ISO 4217 code`, 2);
    const effectiveFrom = options.effectiveFrom ? isoTime(options.effectiveFrom) : undefined;
    await withServices(options, 'rates import', async (services) => {
      const imported = await importRateDeck(services, csv, {
        name: options.name,
        ...(effectiveFrom ? { effectiveFrom } : {}),
        ...(currency ? { currency } : {}),
        makeDefault: options.default ?? false,
        source: file,
      });
      if (!imported.ok) {
        for (const detail of imported.details ?? []) console.error(`${file}:${String(detail.line)}: ${String(detail.field)}: ${String(detail.message)}`);
        throw new CliError(imported.message, 2);
      }
      const { deck, version } = imported.value;
      console.log(`${deck.name}: version ${version.version} (${version.id}), ${version.rowCount} rows, in force from ${version.effectiveFrom.toISOString()}${deck.isDefault ? ', the default deck' : ''}`);
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
      for (const problem of read.problems) console.error(`  ${problem}`);
      throw new CliError(`${read.problems.length} thing(s) in ${dir} cannot be mapped; nothing was imported`, 2);
    }
    await withServices(options, 'rates import-cgrates', async (services) => {
      for (const deck of read.decks) {
        const stored = await storeRateDeck(services, deck.rows, { name: deck.name, effectiveFrom: deck.effectiveFrom, makeDefault: (options.default ?? false) && read.decks.length === 1, source: dir });
        if (!stored.ok) throw new CliError(`${deck.name}: ${stored.message}`, 2);
        console.log(`${deck.name}: version ${stored.value.version.version}, ${deck.rows.length} rows, in force from ${deck.effectiveFrom.toISOString()}`);
      }
    });
  });

function readCsv(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`, 2);
  }
}

export const ratesCommand = new Command('rates').description('rate decks').addCommand(importDeck).addCommand(importCgrates);

