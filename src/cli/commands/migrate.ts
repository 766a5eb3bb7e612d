import { Command } from 'commander';
import { migrate } from '../../store/migrate.ts';
import { describeLocation } from '../../store/open-database.ts';
import { dataDirOption, open } from '../context.ts';

export const migrateCommand = new Command('migrate')
  .description('apply the database migrations that have not run yet')
  .addOption(dataDirOption())
  .action(async (options: { dataDir?: string }) => {
    const opened = await open(options, 'migrate');
    try {
      const applied = await migrate(opened.db);
      const names = applied.map((migration) => `${migration.version} ${migration.name}`).join(', ');
      console.log(`${describeLocation(opened.location)}: ${applied.length === 0 ? 'already up to date' : `applied ${names}`}`);
    } finally {
      await opened.close();
    }
  });
