import { Command } from 'commander';
import { dataDirOption, withServices } from '../context.ts';
import { prepareDemo, prepareOperatorKey } from '../credentials.ts';

export const demoCommand = new Command('demo')
  .description('seed the demo provider data (three organizations) and print keys to log in with')
  .addOption(dataDirOption())
  .action(async (options: { dataDir?: string }) => {
    await withServices(options, 'demo', async (services, opened) => {
      const operator = await prepareOperatorKey(services, opened.location, { mintIfHidden: true });
      const demo = await prepareDemo(services, opened.location);
      console.log(`Operator:  ${operator}`);
      for (const line of demo) console.log(line);
      if (demo.length === 0) console.log('The demo organizations were already there.');
    });
  });
