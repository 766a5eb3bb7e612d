import { Command, InvalidArgumentError, Option } from 'commander';
import { systemClock, TestClock } from '../../clock/clock.ts';
import { createServices, type Services } from '../../services.ts';
import { startEmbeddedMaintenance } from '../../store/embedded-maintenance.ts';
import { migrate } from '../../store/migrate.ts';
import { describeLocation } from '../../store/open-database.ts';
import { savedTestClock } from '../../store/test-clock-store.ts';
import { prepareDemo, prepareOperatorKey } from '../credentials.ts';
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
  demo?: boolean;
}

export const serveCommand = new Command('serve')
  .description('serve the HTTP API (and, later, the web front ends), running scheduled jobs in the background')
  .addOption(new Option('--port <port>', 'port to listen on').default(3000).env('PORT').argParser(port))
  .addOption(new Option('--host <host>', 'address to listen on').default('localhost').env('HOST'))
  .addOption(dataDirOption())
  .option('--test-clock', 'start a test clock that only moves through POST /v1/test-clock/advance')
  .option('--demo', 'seed the demo organizations if they are not there (npm start does)')
  .action(async (options: ServeOptions) => {
    const opened = await open(options, 'serve');
    const clock = options.testClock ? new TestClock() : systemClock;
    let services: Services;
    try {
      await migrate(opened.db);
      // A test clock starts again where the last run advanced it, if that is later than now: it
      // never goes back behind what it stamped (a session's start, a deck version's date).
      const saved = clock instanceof TestClock ? await savedTestClock(opened.db) : undefined;
      if (clock instanceof TestClock && saved && saved > clock.now()) clock.set(saved);
      services = createServices(opened.db, clock, (error) => console.error('scheduled job failed:', error));
    } catch (error) {
      await opened.close();
      throw error;
    }
    const operatorKey = await prepareOperatorKey(services, opened.location);
    const demo = options.demo ? await prepareDemo(services, opened.location) : [];
    // Loaded here, not with the CLI: the HTTP app is most of the CLI's start-up, and only `serve` needs it.
    const { buildApp } = await import('../../http/app.ts');
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
      // A key made at this first start is shown nowhere else: say it before giving up.
      if (operatorKey.includes('shown only now')) console.error(`Operator key (made at this start, shown only now): ${operatorKey}`);
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`port ${options.port} on ${options.host} is already in use; choose another with --port`);
      throw error;
    }
    opened.lock?.setUrl(url);
    // A test clock's work runs as it is advanced, in order; a poll would run it beside an advance.
    if (!options.testClock) services.scheduler.start();
    const maintenance = opened.db.kind === 'pglite' ? startEmbeddedMaintenance(opened.db, { onError: (error) => console.error('vacuum failed:', error) }) : undefined;

    const lines = [
      `Ringbill is serving ${url} on ${describeLocation(opened.location)}`,
      `  API:       ${url}/v1   (reference: ${url}/docs, OpenAPI: ${url}/openapi.json)`,
      `  Log in:    send "Authorization: Bearer <key>" with one of these API keys`,
      `  Operator:  ${operatorKey}`,
      ...demo.map((line) => `  ${line}`),
      `  Try:       curl -H "Authorization: Bearer <operator key>" ${url}/v1/organizations`,
    ];
    if (options.testClock) lines.push(`  Test clock: on, at ${clock.now().toISOString()}; advance it with POST ${url}/v1/test-clock/advance`);
    console.log(lines.join('\n'));

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: stopping`);
      await services.scheduler.stop();
      await maintenance?.stop();
      // A keep-alive connection left idle once its last request was answered would hold the stop
      // (and the data directory's lock) for its whole keep-alive time: close each as it idles.
      const idle = setInterval(() => app.server.closeIdleConnections(), 100);
      await app.close();
      clearInterval(idle);
      await opened.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
