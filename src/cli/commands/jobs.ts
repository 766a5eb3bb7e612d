import { Command } from 'commander';
import { dataDirOption, withServices } from '../context.ts';

const run = new Command('run')
  .description('run every scheduled job that is due now (hold expiry, ...) once, then exit')
  .addOption(dataDirOption())
  .action(async (options: { dataDir?: string }) => {
    await withServices(options, 'jobs run', async (services) => {
      const runs = await services.scheduler.runDue();
      for (const job of runs) console.log(`${job.name}: ${job.handled} handled`);
    });
  });

export const jobsCommand = new Command('jobs').description('scheduled work').addCommand(run);
