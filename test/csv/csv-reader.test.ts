import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LINE_OPTIONS, MAX_LINE_BYTES, readCsvRecords, readCsvTextInPieces, splitCsvLine, type CsvFault } from '../../src/csv/csv-reader.ts';

interface Read {
  records: { fields: string[]; line: number }[];
  /** The lines that could not be read. */
  faults: number[];
}

/**
 * What the reader must give, the plain way: the text's lines as a text editor counts them (LF,
 * CRLF or CR end one), blank ones left out, each read by csv-parse on its own; a line csv-parse
 * refuses is a fault.
 */
function reference(bytes: Buffer): Read {
  const text = bytes.toString('utf8');
  const lines = (text.startsWith('\ufeff') ? text.slice(1) : text).split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  const read: Read = { records: [], faults: [] };
  lines.forEach((line, index) => {
    try {
      for (const fields of parse(line, LINE_OPTIONS) as string[][]) read.records.push({ fields, line: index + 1 });
    } catch {
      read.faults.push(index + 1);
    }
  });
  return read;
}

async function withReader(chunks: readonly (Buffer | string)[]): Promise<Read> {
  const read: Read = { records: [], faults: [] };
  for await (const batch of readCsvRecords(Readable.from(chunks, { objectMode: false }))) {
    batch.records.forEach((fields, index) => read.records.push({ fields, line: batch.lines[index]! }));
    for (const fault of batch.skipped ?? []) read.faults.push(fault.line);
  }
  read.faults.sort((a, b) => a - b);
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

/** A whole text's records, its pieces put together. */
function readCsvText(text: string): { records: string[][]; lines: number[]; faults: CsvFault[] } {
  const read = { records: [] as string[][], lines: [] as number[], faults: [] as CsvFault[] };
  for (const piece of readCsvTextInPieces(text)) {
    read.records.push(...piece.records);
    read.lines.push(...piece.lines);
    read.faults.push(...piece.faults);
  }
  return read;
}

/** The reader, on the text cut at `points`, and the text reader, both read it as the reference does. */
async function expectAsReference(text: string | Buffer, points: readonly number[] = []): Promise<void> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const expected = reference(bytes);
  expect(await withReader(cut(bytes, points))).toEqual(expected);
  const whole = readCsvText(bytes.toString('utf8'));
  expect({ records: whole.records.map((fields, index) => ({ fields, line: whole.lines[index]! })), faults: whole.faults.map((fault) => fault.line) }).toEqual(expected);
  // In pieces as small as a character: a piece may end between a CR and its LF.
  for (const pieceChars of [1, 2, 7]) {
    const pieces = [...readCsvTextInPieces(bytes.toString('utf8'), pieceChars)];
    expect({
      records: pieces.flatMap((piece) => piece.records.map((fields, index) => ({ fields, line: piece.lines[index]! }))),
      faults: pieces.flatMap((piece) => piece.faults.map((fault) => fault.line)),
    }).toEqual(expected);
  }
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('lines', () => {
  it('numbers lines as a text editor does, whatever ends them: LF, CRLF or a CR alone', async () => {
    const read = await withReader([Buffer.from('a,b\n\nc,"d"\r\ne,f\rg\r\n\rh,i\nj')]);
    expect(read).toEqual({
      records: [
        { fields: ['a', 'b'], line: 1 },
        { fields: ['c', 'd'], line: 3 },
        { fields: ['e', 'f'], line: 4 },
        { fields: ['g'], line: 5 },
        { fields: ['h', 'i'], line: 7 },
        { fields: ['j'], line: 8 },
      ],
      faults: [],
    });
  });

  it('takes a CRLF cut between its CR and its LF for one line break', async () => {
    for (let point = 1; point < 12; point++) expect(await withReader(cut(Buffer.from('a\r\nb\r\nc\r\n'), [point]))).toMatchObject({ records: [{ line: 1 }, { line: 2 }, { line: 3 }] });
  });

  it('refuses a UTF-16 file at its first line, reading nothing of it', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\nc,d\n', 'utf16le')]);
    const batches = [];
    for await (const batch of readCsvRecords(Readable.from([utf16], { objectMode: false }))) batches.push(batch);
    expect(batches).toEqual([{ records: [], lines: [], bytes: utf16.length, skipped: [{ line: 1, message: expect.stringContaining('UTF-16'), code: 'UTF16' }] }]);
  });

  it('reports a line too long to hold, without holding it, and reads the lines after it', async () => {
    const long = Buffer.alloc(MAX_LINE_BYTES + 10, 'x');
    const chunks = [Buffer.from('a,1\n'), ...cut(long, [65536, 300000, 700000, 1000000]), Buffer.from('\r'), Buffer.from('\nb,2\n')];
    const faults = [];
    const records: [number | undefined, string[]][] = [];
    for await (const batch of readCsvRecords(Readable.from(chunks, { objectMode: false }))) {
      faults.push(...(batch.skipped ?? []));
      batch.records.forEach((fields, index) => records.push([batch.lines[index], fields]));
    }
    expect(faults).toEqual([{ line: 2, message: `the line is longer than ${MAX_LINE_BYTES} bytes`, code: 'LINE_TOO_LONG' }]);
    expect(records).toEqual([
      [1, ['a', '1']],
      [3, ['b', '2']],
    ]);    // The same line in one piece with its line break, and in a deck, is the same fault.
    const whole = await withReader([Buffer.concat([Buffer.from('a,1\n'), long, Buffer.from('\nb,2\n')])]);
    expect(whole).toEqual({ records: [{ fields: ['a', '1'], line: 1 }, { fields: ['b', '2'], line: 3 }], faults: [2] });
    expect(readCsvText(`a,1\n${long.toString()}\nb,2\n`).faults).toEqual([{ line: 2, message: `the line is longer than ${MAX_LINE_BYTES} bytes`, code: 'LINE_TOO_LONG' }]);
  });
});

describe('a CDR file with a bad line', () => {
  it('rejects each line it cannot read, alone, and reads every line after it', async () => {
    const text = 'a,1\nb,"65912"34567"\nc,3\n"d,4\ne,5\n"f,6\ng,7\nh",8\ni,9\n';
    expect(await withReader([text])).toEqual({
      records: [
        { fields: ['a', '1'], line: 1 },
        { fields: ['c', '3'], line: 3 },
        { fields: ['e', '5'], line: 5 },
        { fields: ['g', '7'], line: 7 },
        { fields: ['i', '9'], line: 9 },
      ],
      // Two stray quotes a few lines apart are two faults; the lines between them are read.
      faults: [2, 4, 6, 8],
    });
    const messages = [];
    for await (const batch of readCsvRecords(Readable.from([text], { objectMode: false }))) messages.push(...(batch.skipped ?? []).map((fault) => [fault.line, fault.message]));
    expect(messages).toContainEqual([4, 'a quoted field is not closed on its line']);
  });

  it('loses no line after text behind a closing quote, a backslash-escaped quote or a no-break space after one (csv-parse skipped the rest of its buffer)', async () => {
    const good = (n: number) => `ACME01,6531230002,6591234567,from-internal,,PJSIP/1,,Dial,,2026-11-02 10:00:00,2026-11-02 10:00:05,2026-11-02 10:01:05,65,60,ANSWERED,DOCUMENTATION,1762077600.${n},`;
    const lines = Array.from({ length: 3000 }, (_, index) => good(index + 1));
    lines[2] = lines[2]!.replace(',,PJSIP', ',"Sales" <6531230002>,PJSIP');
    lines[1499] = lines[1499]!.replace(',,PJSIP', ',"\\"Alice\\" <6512345678>",PJSIP');
    lines[2499] = lines[2499]!.replace(',,PJSIP', ',"Bob"\u00a0,PJSIP');
    const bytes = Buffer.from(lines.join('\n') + '\n');
    for (const points of [[], [65536, 131072], [7, 100000, 200001]]) {
      const read = await withReader(cut(bytes, points));
      expect(read.records.map((record) => record.line)).toEqual(Array.from({ length: 3000 }, (_, index) => index + 1).filter((line) => ![3, 1500, 2500].includes(line)));
      expect(read.records.every((record) => record.fields.length === 18)).toBe(true);
      expect(read.faults).toEqual([3, 1500, 2500]);
    }
  });
});

describe('the fast CSV reader', () => {
  it('reads the fixture files as the reference does', async () => {
    for (const name of ['asterisk-Master.csv', 'freeswitch-cdr.csv', 'rate-deck.csv']) {
      await expectAsReference(fixture(name));
      await expectAsReference(fixture(name), [1, 7, 100, 101, 350, 900]);
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

  it('reads bytes that are not UTF-8 as the reference does', async () => {
    await expectAsReference(Buffer.from([0x61, 0x2c, 0xe2, 0x2c, 0x62, 0x0a, 0x63, 0xff, 0x0a]));
    await expectAsReference(Buffer.from([0x61, 0x0a, 0xc3, 0x0a]));
  });

  it('reads any text made of the characters that matter as the reference does, wherever it is cut', async () => {
    const alphabet = ['a', 'b', '1', ',', ',', '"', '"', '""', ' ', '\t', '\n', '\n', '\r', '\r\n', '\u00a0', '\ufeff', '\u2028', 'é', '😀', '\u0000', '\uFFFD', '\\'];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 4 }), async (pieces, points) => {
        await expectAsReference(pieces.join(''), points);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads well-formed CSV lines with random content as the reference does', async () => {
    const field = fc.oneof(
      fc.string({ maxLength: 8 }).map((text) => text.replace(/[",\r\n]/g, '')),
      fc.string({ maxLength: 8 }).map((text) => `"${text.replace(/[\r\n]/g, '').replace(/"/g, '""')}"`),
      fc.constantFrom('', ' x ', '""', '" a "'),
    );
    const line = fc.array(field, { minLength: 1, maxLength: 6 }).map((fields) => fields.join(','));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\r'), fc.boolean(), fc.array(fc.nat(), { maxLength: 3 }), async (lines, end, trailing, points) => {
        await expectAsReference(lines.join(end) + (trailing ? end : ''), points);
      }),
      { numRuns: 2000 },
    );
  });
});
