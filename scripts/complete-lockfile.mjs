#!/usr/bin/env node
// The npm registry this project is built against serves only some of the per-platform builds
// that rollup (through vitest) lists as optional dependencies. `npm install` then leaves those
// out of package-lock.json, and `npm ci` refuses a lock file that lacks them. This adds an
// entry for each missing one, with the os / cpu / libc its name states, so that `npm ci` sees a
// complete lock file and skips them as builds for other platforms. Run it after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const packages = lock.packages;
const OS = new Set(['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'win32', 'sunos', 'aix', 'netbsd']);

/** `@rollup/rollup-linux-arm64-musl` -> { os: linux, cpu: arm64, libc: musl }. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const at = parts.findIndex((part) => OS.has(part));
  if (at < 0) return undefined;
  const [os, cpu, abi] = parts.slice(at);
  const libc = os === 'linux' && abi ? (abi.startsWith('musl') ? 'musl' : 'glibc') : undefined;
  return { os, cpu: cpu === 'arm' || cpu === undefined ? 'arm' : cpu, libc };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] || packages[`${path}/${key}`]) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    packages[key] = {
      version,
      cpu: [platform.cpu],
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [platform.os],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} optional platform entries`);
