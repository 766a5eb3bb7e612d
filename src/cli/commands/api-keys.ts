import { Command, Option } from 'commander';
import { writeAudit } from '../../audit/audit-log.ts';
import { createApiKey } from '../../auth/api-keys.ts';
import { findOrganization } from '../../organizations/organization-store.ts';
import { CliError, dataDirOption, withServices } from '../context.ts';

const create = new Command('create')
  .description('create an API key and print its secret (shown only this once)')
  .addOption(new Option('--operator', 'a key for the provider’s operator').conflicts('organization'))
  .addOption(new Option('--organization <id>', 'a key that sees only this organization'))
  .option('--name <name>', 'a label for the key', '')
  .addOption(dataDirOption())
  .action(async (options: { operator?: boolean; organization?: string; name: string; dataDir?: string }) => {
    if (!options.operator && !options.organization) throw new CliError('say whose key it is: --operator or --organization <id>', 2);
    await withServices(options, 'api-keys create', async (services) => {
      const organization = options.organization && /^[0-9a-f-]{36}$/i.test(options.organization) ? await findOrganization(services.db, options.organization) : undefined;
      if (options.organization && !organization) throw new CliError(`--organization: no organization ${options.organization}`, 2);
      const key = await services.db.transaction(async (tx) => {
        const created = await createApiKey(tx, services.clock, organization ? { role: 'organization', organizationId: organization.id } : { role: 'operator' }, options.name);
        await writeAudit(tx, {
          organizationId: created.organizationId,
          actor: 'cli',
          action: 'api_key.created',
          before: null,
          after: { id: created.id, prefix: created.prefix, role: created.role, name: created.name },
          at: created.createdAt,
        });
        return created;
      });
      console.log(key.secret);
    });
  });

export const apiKeysCommand = new Command('api-keys').description('API keys').addCommand(create);
