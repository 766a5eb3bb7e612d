import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretFile } from '../../src/cli/credentials.ts';

describe('where an embedded database keeps its keys', () => {
  it('keeps .ringbill/operator-key for the default layout, and files named after any other data directory', () => {
    expect(secretFile({ kind: 'pglite', dataDir: '/home/ops/.ringbill/data' }, 'operator-key')).toBe('/home/ops/.ringbill/operator-key');
    // Two data directories side by side get a key file each, never one they both write.
    expect(secretFile({ kind: 'pglite', dataDir: '/srv/billing-a' }, 'operator-key')).toBe('/srv/billing-a-operator-key');
    expect(secretFile({ kind: 'pglite', dataDir: '/srv/billing-b/' }, 'operator-key')).toBe('/srv/billing-b-operator-key');
    expect(secretFile({ kind: 'pglite', dataDir: 'relative/dir' }, 'demo-organization-key')).toBe(path.resolve('relative/dir-demo-organization-key'));
    expect(secretFile({ kind: 'postgres', url: 'postgres://x' }, 'operator-key')).toBeUndefined();
  });
});
