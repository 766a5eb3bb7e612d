import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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
  /** Random per lock taken: tells this process's lock from a previous one with the same pid. */
  token?: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const where = holder.url ? `, listening on ${holder.url}` : '';
    // A lock from another host name cannot be checked from here: a container recreated on the
    // same volume has a new one, and only whoever knows the old one is gone can say so.
    const elsewhere =
      holder.hostname && holder.hostname !== hostname()
        ? ` It was taken on host ${holder.hostname}, whose processes this one cannot see; if that process is gone (a container recreated on the same volume), delete ${lockFileOf(dataDir)}.`
        : '';
    super(
      `the embedded database in ${dataDir} is in use by \`ringbill ${holder.command}\` (pid ${holder.pid}${where}, since ${holder.startedAt}). ` +
        `PGlite serves one process: stop it first, or use its HTTP API. To run several processes, point DATABASE_URL at a PostgreSQL server.${elsewhere}`,
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

/** What link() answers on a file system that has no hard links. */
const LINKS_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'ENOSYS', 'EXDEV']);

/** The locks this process took (their tokens): a lock naming our pid but not one of these is a previous process's. */
const heldHere = new Set<string>();

/**
 * Takes the embedded data directory for this process. PGlite must never be opened by two
 * processes at once: the second would corrupt the first's files. A lock left by a process that
 * no longer runs (killed, crashed) is taken over.
 *
 * The lock file appears whole or not at all (written aside, then linked into place), so no one
 * ever reads it half-written and takes it for stale. A stale lock is taken over by renaming it
 * away first, so that of several processes taking it over at once only one removes it, and a
 * fresh lock put in its place is never the one removed. A container restarted after a crash has
 * the dead process's pid (often 1): a lock with our pid but not our token is stale.
 */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  const file = lockFileOf(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const token = randomBytes(12).toString('hex');
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), command, startedAt: new Date().toISOString(), token };
  const writeWhole = (target: string, replace: boolean) => {
    const aside = `${file}.${token}.tmp`;
    writeFileSync(aside, JSON.stringify(holder), { mode: 0o600 });
    try {
      if (replace) renameSync(aside, target);
      else linkSync(aside, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (replace || code === 'EEXIST' || !code || !LINKS_UNSUPPORTED.has(code)) throw error;
      // A file system without hard links (some network and FAT volumes): create in place, as
      // exclusive as the file system allows, at the cost of a moment where the file is empty.
      writeFileSync(target, JSON.stringify(holder), { mode: 0o600, flag: 'wx' });
    } finally {
      rmSync(aside, { force: true });
    }
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeWhole(file, false);
      heldHere.add(token);
      const release = () => {
        heldHere.delete(token);
        try {
          if (readHolder(file)?.token === token) unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
      process.once('exit', release);
      return {
        file,
        setUrl(url) {
          holder.url = url;
          writeWhole(file, true);
        },
        release() {
          process.removeListener('exit', release);
          release();
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = readHolder(file);
      if (!existing || isAlive(existing)) throw new DataDirLockedError(dataDir, existing ?? { ...holder, pid: -1, command: 'unknown' });
      // Stale: its process is gone. Moved aside, it is ours to remove only if it is the one judged.
      const moved = `${file}.${token}.stale`;
      try {
        renameSync(file, moved);
      } catch {
        continue; // Someone else moved it first.
      }
      const taken = readHolder(moved);
      if (taken && (taken.token !== existing.token || taken.pid !== existing.pid || taken.startedAt !== existing.startedAt)) {
        // A fresh lock took its place in between: put it back (unless yet another came) and give way.
        try {
          linkSync(moved, file);
        } catch {
          // Another lock is in place; it stands.
        }
        rmSync(moved, { force: true });
        throw new DataDirLockedError(dataDir, taken);
      }
      rmSync(moved, { force: true });
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
  // Our pid: held by this process if it is one of our locks, else left by a previous process
  // that had the same pid (a container restarted after a crash is pid 1 again).
  if (holder.pid === process.pid) return holder.token !== undefined && heldHere.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // The pid is taken, maybe by another program since (pids are reused): a process that is not
  // Node's is not the holder. Where the system does not say (no /proc), it is.
  return runsNode(holder.pid) ?? true;
}

/** Whether the process runs Node (its executable's name), or undefined where that cannot be read. */
function runsNode(pid: number): boolean | undefined {
  try {
    return path.basename(readlinkSync(`/proc/${pid}/exe`)).startsWith('node');
  } catch {
    return undefined;
  }
}
