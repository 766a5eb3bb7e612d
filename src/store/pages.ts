/**
 * A keyset-paged list read to its end, a page at a time: `read` answers the rows after the last
 * row of the page before (undefined for the first), at most `size` of them. Ends after the first
 * short page, so it makes one statement per `size` rows and never holds more than a page.
 */
export async function* pages<T>(read: (last: T | undefined) => Promise<T[]>, size: number): AsyncGenerator<T[]> {
  let last: T | undefined;
  for (;;) {
    const page = await read(last);
    yield page;
    if (page.length < size) return;
    last = page.at(-1);
  }
}

/** Pages as CSV text, the header (given with the first page, even an empty one) first. */
export async function* csvPages<T>(source: AsyncIterable<T[]>, format: (rows: T[], options: { header: boolean }) => string): AsyncGenerator<string> {
  let header = true;
  for await (const page of source) {
    if (page.length > 0 || header) yield format(page, { header });
    header = false;
  }
}
