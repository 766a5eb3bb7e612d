import { Command, CommanderError } from 'commander';
import { apiKeysCommand } from './commands/api-keys.ts';
import { cdrsCommand } from './commands/cdrs.ts';
import { demoCommand } from './commands/demo.ts';
import { ratesCommand } from './commands/rates.ts';
import { jobsCommand } from './commands/jobs.ts';
import { ledgerCommand } from './commands/ledger.ts';
import { migrateCommand } from './commands/migrate.ts';
import { serveCommand } from './commands/serve.ts';
import { SchemaTooNewError } from '../store/migrate.ts';
import { DatabaseLocationError } from '../store/open-database.ts';
import { CliError } from './context.ts';

const program = new Command('ringbill')
  .description('Billing and real-time crediting for VoIP / CPaaS providers')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()
  .addCommand(serveCommand)
  .addCommand(migrateCommand)
  .addCommand(demoCommand)
  .addCommand(ratesCommand)
  .addCommand(cdrsCommand)
  .addCommand(ledgerCommand)
  .addCommand(jobsCommand)
  .addCommand(apiKeysCommand);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are successes; commander has already printed any usage error.
    process.exitCode = error.exitCode;
  } else if (error instanceof CliError || error instanceof SchemaTooNewError || error instanceof DatabaseLocationError) {
    console.error(`ringbill: ${error.message}`);
    process.exitCode = error instanceof CliError ? error.exitCode : error instanceof DatabaseLocationError ? 2 : 1;
  } else {
    console.error('ringbill:', error);
    process.exitCode = 1;
  }
}
