import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepSecret, secretFile } from '../../src/cli/credentials.ts';

describe('where an embedded database keeps its keys', () => {
  it('keeps .ringbill/operator-key for the default layout, and files named after any other data directory', () => {
    expect(secretFile({ kind: 'pglite', dataDir: '/home/ops/.ringbill/data' }, 'operator-key')).toBe('/home/ops/.ringbill/operator-key');
    // Two data directories side by side get a key file each, never one they both write.
    expect(secretFile({ kind: 'pglite', dataDir: '/srv/billing-a' }, 'operator-key')).toBe('/srv/billing-a-operator-key');
    expect(secretFile({ kind: 'pglite', dataDir: '/srv/billing-b/' }, 'operator-key')).toBe('/srv/billing-b-operator-key');
    expect(secretFile({ kind: 'pglite', dataDir: 'relative/dir' }, 'demo-organization-key')).toBe(path.resolve('relative/dir-demo-organization-key'));
    expect(secretFile({ kind: 'postgres', url: 'postgres://x' }, 'operator-key')).toBeUndefined();
  });

  it('writes a key into a file of its own, its owner’s only, not into one someone made there first nor through their link', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringbill-keys-'));
    try {
      const planted = path.join(dir, 'x-operator-key');
      writeFileSync(planted, 'theirs\n');
      chmodSync(planted, 0o666);
      keepSecret(planted, 'rb_op_secret_one');
      expect([readFileSync(planted, 'utf8'), statSync(planted).mode & 0o777]).toEqual(['rb_op_secret_one\n', 0o600]);
      const elsewhere = path.join(dir, 'their-file');
      writeFileSync(elsewhere, 'theirs\n');
      const linked = path.join(dir, 'y-operator-key');
      symlinkSync(elsewhere, linked);
      keepSecret(linked, 'rb_op_secret_two');
      expect([readFileSync(elsewhere, 'utf8'), lstatSync(linked).isSymbolicLink(), readFileSync(linked, 'utf8')]).toEqual(['theirs\n', false, 'rb_op_secret_two\n']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
