import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crlfAsLf, CSV_OPTIONS, readCsvRecords, splitCsvLine, type CsvFault } from '../../src/csv/csv-reader.ts';

interface Read {
  records: { fields: string[]; line: number }[];
  /** csv-parse's codes for the records it skipped, in order, and the line of the first. */
  skipped: string[];
  firstFaultLine?: number;
  error?: { line: number; message: string };
}

/**
 * What csv-parse itself reads: every record it finds before an error. (Read as a stream, records
 * it had found but not yet handed over when it failed were lost; the reader keeps them, as
 * docs/integrations/cdr-files.md says: what came before stands.)
 */
async function withCsvParse(chunks: readonly (Buffer | string)[]): Promise<Read> {
  const read: Read = { records: [], skipped: [] };
  const onSkip = (error: { code: string } | undefined): undefined => {
    if (error) read.skipped.push(error.code);
    if (error) read.firstFaultLine ??= (error as { lines?: number }).lines ?? 0;
    return undefined;
  };
  const onRecord = (value: string[]) => {
    const { record, info } = value as unknown as { record: string[]; info: { lines: number } };
    read.records.push({ fields: record, line: info.lines });
    return null;
  };
  try {
    // The reader reads CRLF as LF (csv-parse, told LF, counts each CR of a CRLF as a line).
    const bytes = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)));
    const lf = Buffer.from(bytes.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
    for await (const _ of Readable.from([lf], { objectMode: false }).pipe(parse({ ...CSV_OPTIONS, on_record: onRecord, on_skip: onSkip }))) void _;
  } catch (error) {
    read.error = { line: (error as { lines?: number }).lines ?? 0, message: (error as Error).message };
  }
  return read;
}

async function withReader(chunks: readonly (Buffer | string)[]): Promise<Read> {
  const read: Read = { records: [], skipped: [] };
  for await (const batch of readCsvRecords(Readable.from(chunks, { objectMode: false }))) {
    batch.records.forEach((fields, index) => read.records.push({ fields, line: batch.lines[index]! }));
    for (const fault of batch.skipped ?? []) {
      read.skipped.push(fault.code!);
      read.firstFaultLine ??= fault.line;
    }
    if (batch.error) read.error = batch.error;
  }
  return read;
}

/** Cuts bytes into pieces at the given points (a stream may cut anywhere, a character included). */
function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const sorted = [...new Set(points.map((point) => point % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of sorted) {
    if (point > from) pieces.push(bytes.subarray(from, point));
    from = point;
  }
  if (from < bytes.length || pieces.length === 0) pieces.push(bytes.subarray(from));
  return pieces;
}

async function expectSame(text: string | Buffer, points: readonly number[] = []): Promise<void> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const chunks = cut(bytes, points);
  const [reader, csvParse] = [await withReader(chunks), await withCsvParse(chunks)];
  // After a bad record csv-parse reads on in a state that depends on where it started (the reader
  // hands it the file from the bad line; here it reads from the first): the records before the
  // first fault must agree exactly, and both must find one.
  const cutoff = Math.min(reader.firstFaultLine ?? Infinity, csvParse.firstFaultLine ?? Infinity);
  // csv-parse counts a bare CR inside a line as a line of its own, and after one its numbers run
  // ahead; the reader counts lines as a text editor does (csv-parse's are kept for a file with CR
  // line ends, found out from its first line).
  const bareCr = /\r(?!\n)/.test(bytes.toString('latin1').split('\n').slice(1).join('\n'));
  const before = (read: Read) => ({
    records: read.records.filter((record) => record.line < (bareCr ? (read.firstFaultLine ?? Infinity) : cutoff)).map((record) => (bareCr ? record.fields : record)),
    faulty: read.skipped.length > 0,
    error: read.error,
  });
  expect(before(reader)).toEqual(before(csvParse));
}

describe('CRLF read as LF', () => {
  it('numbers the lines after a CRLF line in an LF file as a text editor does', async () => {
    const read = await withReader([Buffer.from('a,b\n\nc,"d"\r\ne,f\r\n"g\r\nh",i\nj\n')]);
    expect(read.records).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['c', 'd'], line: 3 },
      { fields: ['e', 'f'], line: 4 },
      { fields: ['g\nh', 'i'], line: 6 },
      { fields: ['j'], line: 7 },
    ]);
  });

  it('turns every CRLF into LF, wherever the pieces are cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('\r', '\n', 'a', '\r\n'), { maxLength: 30 }), fc.array(fc.nat(40), { maxLength: 6 }), async (parts, points) => {
        const bytes = Buffer.from(parts.join(''));
        const out: Buffer[] = [];
        async function* pieces() {
          yield* cut(bytes, points);
        }
        for await (const piece of crlfAsLf(pieces())) out.push(piece);
        expect(Buffer.concat(out).toString()).toBe(parts.join('').replaceAll('\r\n', '\n'));
      }),
    );
  });
});

describe('a CDR file with a bad line', () => {
  async function faultsOf(text: string, pieces = 1) {
    const bytes = Buffer.from(text);
    const size = Math.ceil(bytes.length / pieces);
    const chunks = Array.from({ length: pieces }, (_, index) => bytes.subarray(index * size, (index + 1) * size));
    const read = await withReader(chunks);
    const faults: CsvFault[] = [];
    for await (const batch of readCsvRecords(Readable.from(chunks, { objectMode: false }))) faults.push(...(batch.skipped ?? []));
    return { records: read.records, faults: faults.map((fault) => [fault.line, fault.message]) };
  }

  it('rejects a record with a stray quote and reads every line after it', async () => {
    const { records, faults } = await faultsOf('a,1\nb,"65912"34567"\nc,3\n"d,4\ne,5\n');
    expect(records).toEqual([
      { fields: ['a', '1'], line: 1 },
      { fields: ['c', '3'], line: 3 },
      { fields: ['e', '5'], line: 5 },
    ]);
    expect(faults).toEqual([
      [2, expect.stringContaining('Invalid Closing Quote')],
      [4, 'a quoted field opened on line 4 is never closed; the lines after it are read on their own'],
    ]);
  });

  it('loses no line after text behind a closing quote, a backslash-escaped quote or a no-break space after one (csv-parse skipped the rest of its buffer)', async () => {
    const good = (n: number) => `ACME01,6531230002,6591234567,from-internal,,PJSIP/1,,Dial,,2026-11-02 10:00:00,2026-11-02 10:00:05,2026-11-02 10:01:05,65,60,ANSWERED,DOCUMENTATION,1762077600.${n},`;
    const lines = Array.from({ length: 3000 }, (_, index) => good(index + 1));
    lines[2] = lines[2]!.replace(',,PJSIP', ',"Sales" <6531230002>,PJSIP');
    lines[1499] = lines[1499]!.replace(',,PJSIP', ',"\\"Alice\\" <6512345678>",PJSIP');
    lines[2499] = lines[2499]!.replace(',,PJSIP', ',"Bob"\u00a0,PJSIP');
    for (const pieces of [1, 7]) {
      const { records, faults } = await faultsOf(lines.join('\n') + '\n', pieces);
      expect(records.map((record) => record.line)).toEqual(Array.from({ length: 3000 }, (_, index) => index + 1).filter((line) => ![3, 1500, 2500].includes(line)));
      expect(records.every((record) => record.fields.length === 18)).toBe(true);
      // Each bad line is one fault, on its own line.
      expect(faults.map(([line]) => line)).toEqual([3, 1500, 2500]);
    }
  });

  it('reads a quoted line break as one record, and takes a quote left open for 100 lines for a stray one', async () => {
    expect((await faultsOf('a,"b\nc",d\ne\n')).records).toEqual([
      { fields: ['a', 'b\nc', 'd'], line: 2 },
      { fields: ['e'], line: 3 },
    ]);
    const { records, faults } = await faultsOf(`a,"b\n${Array.from({ length: 120 }, (_, index) => `x${index}`).join('\n')}\n`);
    expect(faults).toEqual([[1, 'a quoted field opened on line 1 is not closed within 100 lines; the lines after it are read on their own']]);
    expect(records).toHaveLength(120);
    expect(records[0]).toEqual({ fields: ['x0'], line: 2 });
  });
});

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('the fast CSV reader', () => {
  it('reads the fixture files as csv-parse does', async () => {
    for (const name of ['asterisk-Master.csv', 'freeswitch-cdr.csv', 'rate-deck.csv']) {
      await expectSame(fixture(name));
      await expectSame(fixture(name), [1, 7, 100, 101, 350, 900]);
    }
  });

  it('splits Asterisk lines itself: quoted fields, doubled quotes, commas inside quotes, empty fields', () => {
    const line = '"ACME01","6531230002","447700900123","from-internal","""Sales, Desk 2"" <6531230002>","PJSIP/102-1","","Dial","PJSIP/447700900123@trunk,60","2026-11-02 10:00:00",,"2026-11-02 10:01:08",68,61,"ANSWERED","DOCUMENTATION","1762077600.2",""';
    expect(splitCsvLine(line)).toEqual([
      'ACME01', '6531230002', '447700900123', 'from-internal', '"Sales, Desk 2" <6531230002>', 'PJSIP/102-1', '', 'Dial', 'PJSIP/447700900123@trunk,60',
      '2026-11-02 10:00:00', '', '2026-11-02 10:01:08', '68', '61', 'ANSWERED', 'DOCUMENTATION', '1762077600.2', '',
    ]);
    expect(splitCsvLine('a, b ,  "c" ,')).toEqual(['a', 'b', 'c', '']);
  });

  it('leaves to csv-parse what it cannot be sure of', () => {
    for (const line of ['"open', 'a"b', '"a"b', '"a"\u00a0,b', '"a"\u0000']) expect(splitCsvLine(line)).toBeUndefined();
  });

  const cases: [string, string][] = [
    ['a quoted line break', 'a,"b\nc",d\ne,f\n'],
    ['a quoted line break after good lines', 'x,y\nz\na,"b\nc",d\ne,f\n'],
    ['CRLF', 'a,b\r\nc,d\r\n'],
    ['CRLF after LF lines', 'a,b\nc,d\r\ne,f\n'],
    ['CR alone', 'a,b\rc,d\r'],
    ['an unterminated quote', 'a,b\n"unterminated,line\n'],
    ['an unterminated quote on the first line', '"unterminated,line\n'],
    ['a quote inside a field', 'a,b\nc,d"e,f\ng\n'],
    ['text after a closing quote', 'a\n"b"c,d\n'],
    ['a no-break space after a closing quote', 'a\n"b"\u00a0,c\n'],
    ['a no-break space after an empty quoted field', 'a\n""\u00a0,c\n'],
    ['blank lines and white space only lines', '\n\na,b\n   \n\t\n\u00a0\u3000\n"",\n  ""  \nc\n\n'],
    ['no line break at the end', 'a,b\nc,"d"'],
    ['white space at the end, no line break', 'a,b\n   '],
    ['a byte order mark', '\ufeffa,b\nc,d\n'],
    ['a byte order mark and a first line for csv-parse', '\ufeffa,"b\nc"\nd\n'],
    ['a byte order mark alone', '\ufeff'],
    ['a byte order mark in the middle', 'a\n\ufeffb,c\n'],
    ['white space around fields', ' a , b ,\t"c"\t, \u2003d\u2003 ,e\u00a0\n'],
    ['non-ASCII text', 'Zürich,東京,"São ""Paulo""",😀\n'],
    ['NUL bytes', 'a\u0000b,"c\u0000d"\n'],
    ['empty input', ''],
    ['one line break', '\n'],
    ['doubled quotes at a line end', 'a,"b""\nc"\n'],
  ];
  for (const [name, text] of cases) {
    it(`reads ${name} as csv-parse does`, async () => {
      await expectSame(text);
      const bytes = Buffer.from(text, 'utf8');
      for (let point = 1; point < bytes.length; point++) await expectSame(bytes, [point]);
    });
  }

  it('reads bytes that are not UTF-8, and UTF-16, as csv-parse does', async () => {
    await expectSame(Buffer.from([0x61, 0x2c, 0xe2, 0x2c, 0x62, 0x0a, 0x63, 0xff, 0x0a]));
    await expectSame(Buffer.from([0x61, 0x0a, 0xc3, 0x0a]));
    await expectSame(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\nc,d\n', 'utf16le')]));
  });

  it('reads strings as csv-parse does (the HTTP route streams its body as one string)', async () => {
    expect(await withReader(['a,"b"\nc\n'])).toEqual(await withCsvParse(['a,"b"\nc\n']));
  });

  it('agrees with csv-parse on any text made of the characters that matter', async () => {
    const alphabet = ['a', 'b', '1', ',', ',', '"', '"', '""', ' ', '\t', '\n', '\n', '\r', '\r\n', '\u00a0', '\ufeff', '\u2028', 'é', '😀', '\u0000', '\uFFFD'];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 4 }), async (pieces, points) => {
        await expectSame(pieces.join(''), points);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with csv-parse on well-formed CSV lines with random content', async () => {
    const field = fc.oneof(
      fc.string({ maxLength: 8 }).map((text) => text.replace(/[",\r\n]/g, '')),
      fc.string({ maxLength: 8 }).map((text) => `"${text.replace(/"/g, '""')}"`),
      fc.constantFrom('', ' x ', '""', '" a "'),
    );
    const line = fc.array(field, { minLength: 1, maxLength: 6 }).map((fields) => fields.join(','));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 3 }), async (lines, trailing, points) => {
        await expectSame(lines.join('\n') + (trailing ? '\n' : ''), points);
      }),
      { numRuns: 2000 },
    );
  });
});
