import { Command } from 'commander';
import { verifyLedger } from '../../ledger/verify-ledger.ts';
import { describeLocation } from '../../store/open-database.ts';
import { CliError, dataDirOption, withServices } from '../context.ts';

const verify = new Command('verify')
  .description('check that every currency sums to zero and every account equals the sum of its transfers; exits 1 on any mismatch')
  .addOption(dataDirOption())
  .option('--json', 'print the report as JSON')
  .action(async (options: { dataDir?: string; json?: boolean }) => {
    await withServices(
      options,
      'ledger verify',
      async (services, opened) => {
        const report = await verifyLedger(services.db).catch((error: unknown) => {
          // Read only, it does not install the schema: a database without it is not Ringbill's (yet).
          if ((error as { code?: string }).code === '42P01') throw new CliError(`${describeLocation(opened.location)} has no Ringbill ledger (run \`ringbill migrate\` to create one)`, 2);
          throw error;
        });
        if (options.json) console.log(JSON.stringify(report, null, 2));
        else {
          console.log(`${describeLocation(opened.location)}: ${report.accounts} accounts, ${report.transfers} transfers, currencies ${report.currencies.join(', ') || 'none'}`);
          for (const problem of report.problems) console.log(`  ${problem}`);
          console.log(report.ok ? 'ledger is balanced' : `${report.problems.length} problem(s) found`);
        }
        if (!report.ok) throw new CliError('the ledger does not balance', 1);
      },
      { migrate: false },
    );
  });

export const ledgerCommand = new Command('ledger').description('inspect the ledger').addCommand(verify);
