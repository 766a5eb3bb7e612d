import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createApiKey, hasOperatorKey, seedEnvironmentOperatorKey } from '../../auth/api-keys.ts';
import { systemClock, TestClock } from '../../clock/clock.ts';
import { buildApp } from '../../http/app.ts';
import { createServices, type Services } from '../../services.ts';
import { migrate } from '../../store/migrate.ts';
import { describeLocation, type DatabaseLocation } from '../../store/open-database.ts';
import { CliError, dataDirOption, open } from '../context.ts';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return parsed;
}

interface ServeOptions {
  port: number;
  host: string;
  dataDir?: string;
  testClock?: boolean;
}

export const serveCommand = new Command('serve')
  .description('serve the HTTP API (and, later, the web front ends), running scheduled jobs in the background')
  .addOption(new Option('--port <port>', 'port to listen on').default(3000).env('PORT').argParser(port))
  .addOption(new Option('--host <host>', 'address to listen on').default('localhost').env('HOST'))
  .addOption(dataDirOption())
  .option('--test-clock', 'start a test clock that only moves through POST /v1/test-clock/advance')
  .action(async (options: ServeOptions) => {
    const opened = await open(options, 'serve');
    const clock = options.testClock ? new TestClock() : systemClock;
    let services: Services;
    try {
      await migrate(opened.db);
      services = createServices(opened.db, clock, (error) => console.error('scheduled job failed:', error));
    } catch (error) {
      await opened.close();
      throw error;
    }
    const operatorKey = await prepareOperatorKey(services, opened.location);
    const app = await buildApp({
      services,
      testClock: options.testClock ?? false,
      logger: { level: process.env.LOG_LEVEL ?? 'info' },
    });
    let url: string;
    try {
      await app.listen({ port: options.port, host: options.host });
      const address = app.server.address();
      const boundPort = typeof address === 'object' && address ? address.port : options.port;
      url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${boundPort}`;
    } catch (error) {
      await app.close();
      await opened.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`port ${options.port} on ${options.host} is already in use; choose another with --port`);
      throw error;
    }
    opened.lock?.setUrl(url);
    services.scheduler.start();

    const lines = [
      `Ringbill is serving ${url} on ${describeLocation(opened.location)}`,
      `  API:       ${url}/v1   (reference: ${url}/docs, OpenAPI: ${url}/openapi.json)`,
      `  Log in:    send "Authorization: Bearer <key>" with ${operatorKey}`,
      `  Try:       curl -H "Authorization: Bearer $KEY" ${url}/v1/accounts`,
    ];
    if (options.testClock) lines.push(`  Test clock: on, at ${clock.now().toISOString()}; advance it with POST ${url}/v1/test-clock/advance`);
    console.log(lines.join('\n'));

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: stopping`);
      await services.scheduler.stop();
      await app.close();
      await opened.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

/**
 * Makes sure someone can log in, and says how. RINGBILL_OPERATOR_KEY wins. Otherwise the first
 * start creates an operator key; on the embedded database it is also kept in a file beside the
 * data (which holds everything the key guards anyway), so every start can print it.
 */
async function prepareOperatorKey(services: Services, location: DatabaseLocation): Promise<string> {
  const fromEnvironment = process.env.RINGBILL_OPERATOR_KEY;
  if (fromEnvironment !== undefined) {
    if (fromEnvironment.length < 16) throw new CliError('RINGBILL_OPERATOR_KEY must be at least 16 characters');
    await seedEnvironmentOperatorKey(services.db, services.clock, fromEnvironment);
    return 'the operator key in RINGBILL_OPERATOR_KEY';
  }
  const keyFile = location.kind === 'pglite' ? path.join(path.dirname(location.dataDir), 'operator-key') : undefined;
  if (!(await hasOperatorKey(services.db))) {
    const key = await createApiKey(services.db, services.clock, { role: 'operator' }, 'created at first start');
    if (keyFile) writeFileSync(keyFile, `${key.secret}\n`, { mode: 0o600 });
    return `the operator key ${key.secret}${keyFile ? ` (kept in ${keyFile})` : ' (shown only now)'}`;
  }
  if (keyFile && existsSync(keyFile)) return `the operator key ${readFileSync(keyFile, 'utf8').trim()} (from ${keyFile})`;
  return 'an operator key (make another with `ringbill api-keys create --operator` while the server is stopped)';
}
