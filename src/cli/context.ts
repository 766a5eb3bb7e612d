import { Option } from 'commander';
import { systemClock, type Clock } from '../clock/clock.ts';
import { createServices, type Services } from '../services.ts';
import { DataDirLockedError } from '../store/data-dir-lock.ts';
import { migrate } from '../store/migrate.ts';
import { openDatabase, resolveDatabaseLocation, type OpenedDatabase } from '../store/open-database.ts';

/** A failure the CLI reports in one line and an exit code, without a stack trace. */
/**
 * Text from a file, shown on a terminal: control characters written as \uXXXX escapes, so that a
 * CDR field holding an escape sequence cannot clear the screen or forge the lines after it.
 */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const dataDirOption = () =>
  new Option('--data-dir <dir>', 'embedded database directory (default: $RINGBILL_DATA_DIR, else ./.ringbill/data; DATABASE_URL selects a PostgreSQL server)');

/**
 * Opens the database a command names, migrated (unless `migrate: false`: a command that only
 * reads, which may point at a read-only replica), with the services over it; closes it after `work`.
 */
export async function withServices<T>(
  options: { dataDir?: string | undefined },
  command: string,
  work: (services: Services, opened: OpenedDatabase) => Promise<T>,
  settings: { clock?: Clock; migrate?: boolean } = {},
): Promise<T> {
  const opened = await open(options, command);
  try {
    if (settings.migrate !== false) await migrate(opened.db);
    return await work(createServices(opened.db, settings.clock ?? systemClock), opened);
  } finally {
    await opened.close();
  }
}

export async function open(options: { dataDir?: string | undefined }, command: string): Promise<OpenedDatabase> {
  try {
    return await openDatabase(resolveDatabaseLocation(options), command);
  } catch (error) {
    if (error instanceof DataDirLockedError) throw new CliError(error.message, 75);
    const location = resolveDatabaseLocation(options);
    // The server's (or the URL parser's) own words, with where: not a stack and a driver object.
    if (location.kind === 'postgres') throw new CliError(`cannot connect to the PostgreSQL server of DATABASE_URL (${describeServer(location.url)}): ${(error as Error).message}`, 1);
    throw error;
  }
}

/** Host, port and database of a connection URL, never its password. */
function describeServer(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || parsed.searchParams.get('host') || 'localhost'}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname || '/'}`;
  } catch {
    return 'not a URL';
  }
}
