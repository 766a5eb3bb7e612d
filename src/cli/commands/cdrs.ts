import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { CDR_FORMATS, type CdrFormat } from '../../charging/cdr/cdr.ts';
import { rateCdrFile, unusableFile } from '../../charging/cdr/rate-cdr-file.ts';
import { formatMicros } from '../../money/index.ts';
import { isTimeZone } from '../../organizations/billing-profile.ts';
import { CliError, dataDirOption, printable, withServices } from '../context.ts';

/**
 * Files from this size on are parsed and priced in a worker thread, beside the storing: starting
 * it costs about half a second, which a file of a few seconds' work wins back.
 */
const WORKER_FILE_BYTES = 16 * 2 ** 20;

const rate = new Command('rate')
  .description('rate a CDR file and charge each organization, once per record; bad lines are reported with their line number')
  .argument('<file>', 'the CDR file, or - to read standard input (zcat Master.csv.gz | ringbill cdrs rate - ...)')
  .addOption(new Option('--format <format>', 'the file’s format').choices([...CDR_FORMATS]).makeOptionMandatory())
  .option('--timezone <zone>', 'the IANA zone the file’s local times are in', 'UTC')
  .option('--dry-run', 'rate and report, charge nothing')
  .option('--json', 'print the report as JSON')
  .addOption(dataDirOption())
  .action(async (file: string, options: { format: CdrFormat; timezone: string; dryRun?: boolean; json?: boolean; dataDir?: string }) => {
    const fromStdin = file === '-';
    if (!fromStdin && !existsSync(file)) throw new CliError(`${file}: no such file`, 2);
    if (!fromStdin && !statSync(file).isFile()) throw new CliError(`${file}: not a file`, 2);
    if (!isTimeZone(options.timezone)) throw new CliError(`--timezone: "${options.timezone}" is not an IANA time zone`, 2);
    // V8 moves objects made where many once outlived a young-generation collection straight into
    // the old generation. Rating a file makes millions of short-lived objects in a few places,
    // and once V8 decided so, each lived until the next full collection: the collector's time
    // tripled (docs/decisions.md). Not for `serve`, whose requests were measured slower without it.
    setFlagsFromString('--no-allocation-site-pretenuring');
    await withServices(options, 'cdrs rate', async (services) => {
      // A pipe has no size to show progress against, nor a file for the worker thread to read.
      const size = fromStdin ? undefined : statSync(file).size;
      const bar =
        size !== undefined && process.stderr.isTTY && !options.json
          ? new cliProgress.SingleBar({ stream: process.stderr, format: '{bar} {percentage}% | {value}/{total} bytes | {eta_formatted}' }, cliProgress.Presets.shades_classic)
          : undefined;
      bar?.start(size!, 0);
      const report = await rateCdrFile(services, fromStdin ? process.stdin : { file }, {
        format: options.format,
        timeZone: options.timezone,
        dryRun: options.dryRun ?? false,
        fileName: fromStdin ? 'stdin' : path.basename(file),
        pricing: size !== undefined && size >= WORKER_FILE_BYTES ? 'worker' : 'here',
        ...(bar ? { onProgress: (bytes: number) => bar.update(bytes) } : {}),
      });
      bar?.update(size!);
      bar?.stop();
      const totals = report.totals.map((total) => ({ ...total, amount: formatMicros(total.amount, total.currency) }));
      if (options.json) {
        console.log(JSON.stringify({ ...report, totals }, null, 2));
      } else {
        for (const problem of report.problems) console.log(`${fromStdin ? 'stdin' : file}:${problem.line}: ${problem.outcome}: ${printable(problem.reason)}`);
        // The report keeps the first lines' problems only (a file of bad lines would fill memory).
        const unnamed = report.rejected + report.duplicates - report.problems.length;
        if (unnamed > 0) console.log(`... and ${unnamed} more lines not rated (only the first ${report.problems.length} are named)`);
        console.log(
          `${report.dryRun ? 'dry run: ' : ''}${report.lines} lines: ${report.rated} rated, ${report.skipped} skipped (unanswered), ` +
            `${report.rejected} rejected, ${report.duplicates} duplicates`,
        );
        for (const total of totals) console.log(`  ${report.dryRun ? 'would charge' : 'charged'} ${total.amount} ${total.currency} for ${total.records} records`);
      }
      const unusable = unusableFile(report);
      if (unusable) throw new CliError(`${fromStdin ? 'stdin' : file}: ${unusable}`, 2);
      if (report.rejected > 0) throw new CliError(`${report.rejected} line(s) rejected; the rest were rated`, 2);
    });
  });

export const cdrsCommand = new Command('cdrs').description('CDR files').addCommand(rate);
