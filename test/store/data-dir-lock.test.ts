import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir, lockFileOf } from '../../src/store/data-dir-lock.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ringbill-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process has: one that ran and ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('the embedded data directory lock', () => {
  it('refuses a second taker while held, and is free again once released', () => {
    const data = path.join(dir, 'a');
    const lock = lockDataDir(data, 'serve');
    expect(() => lockDataDir(data, 'jobs run')).toThrow(DataDirLockedError);
    lock.setUrl('http://localhost:3000');
    expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid, command: 'serve', url: 'http://localhost:3000' });
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    lockDataDir(data, 'serve').release();
  });

  it('takes over a lock whose pid another program has taken since (pids are reused)', async () => {
    const { spawn } = await import('node:child_process');
    const other = spawn('sleep', ['30']);
    try {
      const data = path.join(dir, 'reused');
      writeFileSync(lockFileOf(data), JSON.stringify({ pid: other.pid, hostname: hostname(), command: 'serve', startedAt: '2026-11-01T00:00:00Z', token: 'gone' }));
      const lock = lockDataDir(data, 'serve');
      expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
      lock.release();
    } finally {
      other.kill();
    }
  });

  it('leaves a lock taken on another host to whoever knows it is gone, and says how to clear it', () => {
    const data = path.join(dir, 'elsewhere');
    writeFileSync(lockFileOf(data), JSON.stringify({ pid: deadPid(), hostname: `not-${hostname()}`, command: 'serve', startedAt: '2026-11-01T00:00:00Z', token: 'theirs' }));
    expect(() => lockDataDir(data, 'serve')).toThrow(`taken on host not-${hostname()}`);
    expect(() => lockDataDir(data, 'serve')).toThrow(`delete ${lockFileOf(data)}`);
  });

  it('takes over a lock its process left: one that ended, or a previous process with our pid (a restarted container)', () => {
    for (const pid of [deadPid(), process.pid]) {
      const data = path.join(dir, `stale-${pid}`);
      writeFileSync(lockFileOf(data), JSON.stringify({ pid, hostname: hostname(), command: 'serve', startedAt: '2026-11-01T00:00:00Z', token: 'previous' }));
      const lock = lockDataDir(data, 'serve');
      expect(JSON.parse(readFileSync(lock.file, 'utf8')).command).toBe('serve');
      expect(() => lockDataDir(data, 'serve')).toThrow(DataDirLockedError);
      lock.release();
    }
  });

  it('lets one of several processes that start at once over a stale lock have it', async () => {
    const data = path.join(dir, 'race');
    const script = `
      import('${path.resolve('src/store/data-dir-lock.ts').replaceAll('\\\\', '/')}').then(({ lockDataDir }) => {
        try { lockDataDir(${JSON.stringify(data)}, 'serve'); console.log('took'); setTimeout(() => {}, 6000); } catch { console.log('refused'); }
      });`;
    for (let round = 0; round < 2; round++) {
      writeFileSync(lockFileOf(data), JSON.stringify({ pid: deadPid(), hostname: hostname(), command: 'serve', startedAt: '2026-11-01T00:00:00Z' }));
      const { spawn } = await import('node:child_process');
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () => {
          const child = spawn(process.execPath, ['--import', 'tsx', '-e', script]);
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          return new Promise<string>((resolve) => child.on('close', () => resolve(out.trim())));
        }),
      );
      expect(outcomes.filter((outcome) => outcome === 'took'), outcomes.join(',')).toHaveLength(1);
    }
  }, 60_000);
});
