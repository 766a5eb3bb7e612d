import { Command, Option } from 'commander';
import { writeAudit } from '../../audit/audit-log.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/api-keys.ts';
import { findOrganization } from '../../organizations/organization-store.ts';
import { CliError, dataDirOption, withServices } from '../context.ts';

const UUID = /^[0-9a-f-]{36}$/i;

const create = new Command('create')
  .description('create an API key and print its secret (shown only this once)')
  .addOption(new Option('--operator', 'a key for the provider’s operator').conflicts('organization'))
  .addOption(new Option('--organization <id>', 'a key that sees only this organization'))
  .option('--name <name>', 'a label for the key', '')
  .addOption(dataDirOption())
  .action(async (options: { operator?: boolean; organization?: string; name: string; dataDir?: string }) => {
    if (!options.operator && !options.organization) throw new CliError('say whose key it is: --operator or --organization <id>', 2);
    await withServices(options, 'api-keys create', async (services) => {
      const organization = options.organization && UUID.test(options.organization) ? await findOrganization(services.db, options.organization) : undefined;
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

const list = new Command('list')
  .description('list API keys, newest first, revoked ones too (never their secrets)')
  .option('--organization <id>', 'only this organization’s keys')
  .addOption(dataDirOption())
  .action(async (options: { organization?: string; dataDir?: string }) => {
    if (options.organization !== undefined && !UUID.test(options.organization)) throw new CliError(`--organization: "${options.organization}" is not an organization id`, 2);
    await withServices(options, 'api-keys list', async (services) => {
      for (const key of await listApiKeys(services.db, options.organization ? { organizationId: options.organization } : {})) {
        const whose = key.role === 'operator' ? 'operator' : `organization ${key.organizationId}`;
        console.log([key.id, `${key.prefix}…`, whose, key.name || '-', key.createdAt.toISOString(), key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active'].join('\t'));
      }
    });
  });

const revoke = new Command('revoke')
  .description('revoke an API key: it stops working (on running servers within 10 seconds)')
  .argument('<id>', 'the key’s id (key_..., from `api-keys list`)')
  .addOption(dataDirOption())
  .action(async (id: string, options: { dataDir?: string }) => {
    await withServices(options, 'api-keys revoke', async (services) => {
      const revoked = await revokeApiKey(services.db, services.clock, id, 'cli');
      if (!revoked.ok) throw new CliError(revoked.message, 2);
      console.log(`${revoked.value.id} revoked at ${revoked.value.revokedAt!.toISOString()}`);
    });
  });

export const apiKeysCommand = new Command('api-keys').description('API keys').addCommand(create).addCommand(list).addCommand(revoke);
