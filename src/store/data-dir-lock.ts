import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** Who holds an embedded data directory, as its lock file says. */
export interface LockHolder {
  pid: number;
  hostname: string;
  command: string;
  startedAt: string;
  /** Where a holding server listens, once it does. */
  url?: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const where = holder.url ? `, listening on ${holder.url}` : '';
    super(
      `the embedded database in ${dataDir} is in use by \`ringbill ${holder.command}\` (pid ${holder.pid}${where}, since ${holder.startedAt}). ` +
        'PGlite serves one process: stop it first, or use its HTTP API. To run several processes, point DATABASE_URL at a PostgreSQL server.',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Records the server's address so that a refused command can name it. */
  setUrl(url: string): void;
  release(): void;
}

export function lockFileOf(dataDir: string): string {
  return `${path.resolve(dataDir)}.lock`;
}

/**
 * Takes the embedded data directory for this process. PGlite must never be opened by two
 * processes at once: the second would corrupt the first's files. A lock left by a process that
 * no longer runs (killed, crashed) is taken over.
 */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  const file = lockFileOf(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify(holder));
      closeSync(fd);
      const release = () => {
        try {
          if (readHolder(file)?.pid === process.pid) unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
      process.once('exit', release);
      return {
        file,
        setUrl(url) {
          holder.url = url;
          writeFileSync(file, JSON.stringify(holder), { mode: 0o600 });
        },
        release() {
          process.removeListener('exit', release);
          release();
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = readHolder(file);
      if (existing && isAlive(existing)) throw new DataDirLockedError(dataDir, existing);
      // Stale: its process is gone. Remove it and try once more; a racing process may win.
      try {
        unlinkSync(file);
      } catch {
        // Someone else removed it first.
      }
    }
  }
  const existing = readHolder(file);
  throw new DataDirLockedError(dataDir, existing ?? { ...holder, pid: -1, command: 'unknown' });
}

function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockHolder): boolean {
  // A lock from another machine (a shared disk) cannot be checked: treat it as held.
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
