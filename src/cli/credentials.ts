import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKey, EnvironmentKeyTaken, hasOperatorKey, seedEnvironmentOperatorKey } from '../auth/api-keys.ts';
import { seedDemo } from '../demo/seed-demo.ts';
import type { Services } from '../services.ts';
import type { DatabaseLocation } from '../store/open-database.ts';
import { CliError } from './context.ts';

/**
 * Where a key's secret is kept for an embedded database: in files beside the data directory,
 * which holds everything the keys guard anyway, so that every start can say how to log in.
 * A server database keeps no secrets on disk: its keys are printed once. The default layout
 * (`.ringbill/data`) keeps `.ringbill/operator-key`; any other directory gets files named after
 * it (`/srv/billing` -> `/srv/billing-operator-key`), so that two data directories side by side
 * never share, and overwrite, one key file.
 */
export function secretFile(location: DatabaseLocation, name: string): string | undefined {
  if (location.kind !== 'pglite') return undefined;
  const dir = path.resolve(location.dataDir);
  return path.basename(dir) === 'data' ? path.join(path.dirname(dir), name) : `${dir}-${name}`;
}

/**
 * Writes a secret to a file of its own, readable by its owner only. Written aside as a new file,
 * then renamed into place: writing into whatever is at the path would keep the mode of a file
 * someone else made there first, or follow a link of theirs, and hand them the key.
 */
export function keepSecret(file: string | undefined, secret: string): void {
  if (!file) return;
  const aside = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  writeFileSync(aside, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    renameSync(aside, file);
  } catch (error) {
    rmSync(aside, { force: true });
    throw new CliError(`cannot keep the key in ${file}: ${(error as Error).message}`);
  }
}

function kept(file: string | undefined): string | undefined {
  return file && existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/**
 * How to log in as the operator, making sure someone can: RINGBILL_OPERATOR_KEY wins, else the
 * first start creates a key. With `mintIfHidden`, a new key is made when no secret can be shown.
 */
export async function prepareOperatorKey(services: Services, location: DatabaseLocation, options: { mintIfHidden?: boolean } = {}): Promise<string> {
  const fromEnvironment = process.env.RINGBILL_OPERATOR_KEY;
  if (fromEnvironment !== undefined) {
    if (fromEnvironment.length < 16) throw new CliError('RINGBILL_OPERATOR_KEY must be at least 16 characters');
    const seeded = await seedEnvironmentOperatorKey(services.db, services.clock, fromEnvironment).catch((error: unknown) => {
      if (error instanceof EnvironmentKeyTaken) throw new CliError(error.message);
      throw error;
    });
    if (seeded) return 'the key in RINGBILL_OPERATOR_KEY';
    return 'not the key in RINGBILL_OPERATOR_KEY: it was revoked and stays so (an environment key seeded before it, if any, still works); set a new one, or use another operator key';
  }
  const file = secretFile(location, 'operator-key');
  if (!(await hasOperatorKey(services.db))) {
    const key = await createApiKey(services.db, services.clock, { role: 'operator' }, 'created at first start');
    keepSecret(file, key.secret);
    return `${key.secret}${file ? ` (kept in ${file})` : ' (shown only now)'}`;
  }
  const secret = kept(file);
  if (secret) return `${secret} (from ${file})`;
  if (options.mintIfHidden) return (await createApiKey(services.db, services.clock, { role: 'operator' }, 'demo')).secret;
  return 'the key printed at first start (make another with `ringbill api-keys create --operator` while the server is stopped)';
}

/** Seeds the demo organizations when they are missing; answers what to print about them, line by line. */
export async function prepareDemo(services: Services, location: DatabaseLocation): Promise<string[]> {
  const file = secretFile(location, 'demo-organization-key');
  const seeded = await seedDemo(services);
  if (seeded) {
    keepSecret(file, seeded.organizationKey.secret);
    const names = seeded.organizations.map((organization) => `${organization.name} (${organization.paymentScheme}, wallet ${organization.walletId})`).join(', ');
    return [
      `Customer:  ${seeded.organizationKey.secret} sees ${seeded.organizationKey.organization.name} only${file ? ` (kept in ${file})` : ' (shown only now)'}`,
      `Demo:      seeded ${names}`,
    ];
  }
  const secret = kept(file);
  return secret ? [`Customer:  ${secret} sees the demo's Acme Pte Ltd only (from ${file})`] : [];
}
