import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvPages, pages } from '../../src/store/pages.ts';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** A keyset read over 1..n: the numbers after `last`, `size` at most. */
const reader = (n: number, size: number, reads: { count: number }) => async (last: number | undefined) => {
  reads.count++;
  const from = (last ?? 0) + 1;
  return Array.from({ length: Math.max(0, Math.min(size, n - from + 1)) }, (_, i) => from + i);
};

describe('reading a list page by page', () => {
  it('reads every row once, in order, with one read per page and one more only when the last page is full', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 12 }), async (n, size) => {
        const reads = { count: 0 };
        const read = await collect(pages(reader(n, size, reads), size));
        expect(read.flat()).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(reads.count).toBe(Math.floor(n / size) + 1);
      }),
    );
  });

  it('writes the header once, with the first page, even when there are no rows, and no empty page after', async () => {
    const format = (rows: number[], { header }: { header: boolean }) => `${header ? 'n\n' : ''}${rows.map((row) => `${row}\n`).join('')}`;
    expect((await collect(csvPages(pages(reader(0, 3, { count: 0 }), 3), format))).join('')).toBe('n\n');
    const six = await collect(csvPages(pages(reader(6, 3, { count: 0 }), 3), format));
    expect(six).toEqual(['n\n1\n2\n3\n', '4\n5\n6\n']);
  });
});
