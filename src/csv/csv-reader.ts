import { parse, type CsvError } from 'csv-parse';
import { parse as parseRecord } from 'csv-parse/sync';
import { Readable } from 'node:stream';

/**
 * The csv-parse options CDR files are read with. The fast reader below gives exactly what
 * csv-parse gives with them, line numbers and errors included.
 */
export const CSV_OPTIONS = {
  relax_column_count: true,
  // FreeSWITCH writes a space before its last field.
  ltrim: true,
  rtrim: true,
  skip_empty_lines: true,
  bom: true,
  info: true,
  // A record csv-parse cannot read (a stray quote) is reported and skipped, and reading goes on:
  // one bad line must not take the rest of the file with it.
  skip_records_with_error: true,
} as const;

/** Records read together; `lines[i]` is the line `records[i]` ended on. */
export interface CsvBatch {
  readonly records: string[][];
  readonly lines: number[];
  /** Bytes of the input read so far. */
  readonly bytes: number;
  /** Records csv-parse could not read and skipped, by the line it found the fault on. */
  readonly skipped?: readonly CsvFault[];
  /** The CSV could not be read past here: what came before stands. */
  readonly error?: CsvFault;
}

export interface CsvFault {
  readonly line: number;
  readonly message: string;
  /** csv-parse's code for the fault, such as CSV_INVALID_CLOSING_QUOTE. */
  readonly code?: string;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const UTF8_BOM = [0xef, 0xbb, 0xbf];
const BATCH = 256;

/**
 * JavaScript white space and line terminators: what csv-parse trims (its `timchars`, "aligned
 * with String.prototype.trim()").
 */
function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** Space, tab, vertical tab and form feed: the one-byte white space csv-parse skips after a closing quote. */
function isByteSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c;
}

/**
 * The fields of one line, as csv-parse reads them with CSV_OPTIONS, for the lines that are
 * simple to be sure of: every quoted field closes on the line, and nothing in it is an error
 * or a case where csv-parse has quirks (white space other than space and tab after a closing
 * quote). Undefined otherwise, and the caller hands the line to csv-parse. `line` has no line
 * breaks (neither CR nor LF) and no U+FFFD (where the bytes were not UTF-8).
 */
export function splitCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  const length = line.length;
  let at = 0;
  for (;;) {
    while (at < length && isSpace(line.charCodeAt(at))) at++;
    if (at < length && line.charCodeAt(at) === QUOTE) {
      let value = '';
      let from = at + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote === -1) return undefined;
        if (line.charCodeAt(quote + 1) === QUOTE) {
          value += line.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += line.slice(from, quote);
        at = quote + 1;
        break;
      }
      while (at < length && isByteSpace(line.charCodeAt(at))) at++;
      fields.push(value);
      if (at === length) return fields;
      if (line.charCodeAt(at) !== COMMA) return undefined;
      at++;
    } else {
      const comma = line.indexOf(',', at);
      const end = comma === -1 ? length : comma;
      const raw = line.slice(at, end);
      if (raw.includes('"')) return undefined;
      fields.push(raw.trimEnd());
      if (comma === -1) return fields;
      at = comma + 1;
    }
  }
}

function isBlank(line: string): boolean {
  for (let index = 0; index < line.length; index++) if (!isSpace(line.charCodeAt(index))) return false;
  return true;
}

/** A line the fast path leaves to csv-parse. */
function needsCsvParse(line: string): boolean {
  return line.includes('\r') || line.includes('\uFFFD');
}

/** A piece of the input as a Buffer: a text as UTF-8, bytes (a Buffer, or a Uint8Array from another thread) as they are. */
function asBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  const bytes = chunk as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A stream of the file's bytes (a Readable, or pieces handed over from another thread). */
export type CsvInput = AsyncIterable<Uint8Array | string>;

/** The most lines one record may run over before its open quote is taken for a stray one. */
const MAX_RECORD_LINES = 100;

/** csv-parse's options for one record the splitter left to it; the reader does the rest. */
const RECORD_OPTIONS = { relax_column_count: true, ltrim: true, rtrim: true, skip_empty_lines: true, record_delimiter: '\n' } as const;

/**
 * Lines into records, with their faults. The splitter reads most lines; csv-parse reads each
 * record it leaves, on its own, so that a record it cannot read is that record's fault alone
 * and reading goes on at the next line. (Its own recovery, `skip_records_with_error`, threw away
 * the rest of what it held after some faults, good lines and all, without a word.) A record
 * whose quote csv-parse finds open at the end of the line runs on over the next lines; when it
 * cannot be read, or the quote is not closed within MAX_RECORD_LINES lines or by the end of the
 * input, the quote is taken for a stray one: its first line is the fault, and the lines after it
 * are read again as lines of their own.
 */
class RecordAssembler {
  records: string[][] = [];
  lines: number[] = [];
  faults: CsvFault[] = [];
  /** A record whose quoted field runs on: its lines so far, and the number of the first. */
  private open: { first: number; parts: string[] } | undefined;

  /** Whether the last line ended inside a quoted field. */
  get inRecord(): boolean {
    return this.open !== undefined;
  }

  /** One line of the input (no line break), and its number. */
  accept(content: string, line: number): void {
    if (this.open) {
      const { parts, first } = this.open;
      parts.push(content);
      // Inside a quoted field only a quote can end it: a line without one is read with the
      // record's next line that has one, not each time (a stray quote read 100 lines 100 times).
      if (content.includes('"')) this.parse(this.open);
      else if (parts.length >= MAX_RECORD_LINES) this.tooLong({ first, parts });
      return;
    }
    const fields = needsCsvParse(content) ? undefined : isBlank(content) ? null : splitCsvLine(content);
    if (fields === null) return;
    if (fields) this.push(fields, line);
    else this.parse({ first: line, parts: [content] });
  }

  /** The input ended: a record still open has a stray quote. */
  end(): void {
    const open = this.open;
    this.open = undefined;
    if (open) this.strayQuote(open.parts, open.first, `a quoted field opened on line ${open.first} is never closed`);
  }

  private push(fields: string[], line: number): void {
    this.records.push(fields);
    this.lines.push(line);
  }

  /** Reads a record's lines so far with csv-parse: a record, a fault, or (a quote still open) more lines to come. */
  private parse(record: { first: number; parts: string[] }): void {
    const { first, parts } = record;
    this.open = undefined;
    let parsed: string[][];
    try {
      parsed = parseRecord(parts.join('\n'), RECORD_OPTIONS) as string[][];
    } catch (error) {
      const { code } = error as CsvError;
      if (code === 'CSV_QUOTE_NOT_CLOSED') {
        if (parts.length < MAX_RECORD_LINES) this.open = record;
        else this.tooLong(record);
        return;
      }
      // csv-parse counts the lines of the record it was given; the record's own line is the one that helps.
      const message = (error as Error).message.replace(/ at line \d+/, '');
      if (parts.length === 1) this.faults.push({ line: first, message, code });
      else this.strayQuote(parts, first, message, code);
      return;
    }
    for (const fields of parsed) this.push(fields, first + parts.length - 1);
  }

  private tooLong({ first, parts }: { first: number; parts: string[] }): void {
    this.open = undefined;
    this.strayQuote(parts, first, `a quoted field opened on line ${first} is not closed within ${MAX_RECORD_LINES} lines`);
  }

  private strayQuote(parts: string[], first: number, message: string, code = 'CSV_QUOTE_NOT_CLOSED'): void {
    this.faults.push({ line: first, message: `${message}; the lines after it are read on their own`, code });
    parts.slice(1).forEach((part, index) => this.accept(part, first + 1 + index));
  }
}

/**
 * Reads CSV records from a stream in batches, as csv-parse with CSV_OPTIONS reads a file without
 * faults, with the line each ended on; a record it cannot read is reported, and reading goes on
 * at the next line (RecordAssembler). Most lines of a CDR file are simple, and a hand-written
 * splitter reads them several times faster than csv-parse. CRLF is read as LF. A file whose
 * first line holds a bare CR (CR line ends) or that is UTF-16 goes to csv-parse whole.
 */
export async function* readCsvRecords(input: CsvInput): AsyncGenerator<CsvBatch> {
  const source = input[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  /** Bytes before `pending`, and lines before it. */
  let consumed = 0;
  let line = 0;
  const assembler = new RecordAssembler();
  let started = false;
  let done = false;
  /** The input's first bytes, when they are a UTF-8 byte order mark. */
  let bom: Buffer | undefined;
  /**
   * Whether a line break outside quotes was read, and the bytes read before it: until then
   * csv-parse would take a bare CR for the file's line end, and the file goes to it whole.
   */
  let lineEndSeen = false;
  const head: Buffer[] = [];

  const next = async (): Promise<Buffer | undefined> => {
    const read = await source.next();
    if (read.done) return undefined;
    const chunk: unknown = read.value;
    return asBuffer(chunk);
  };
  const batch = (bytes: number): CsvBatch => {
    const { records, lines, faults } = assembler;
    assembler.records = [];
    assembler.lines = [];
    assembler.faults = [];
    return faults.length > 0 ? { records, lines, bytes, skipped: faults } : { records, lines, bytes };
  };

  while (!done) {
    const chunk = await next();
    if (chunk === undefined) done = true;
    else pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (!started) {
      // As csv-parse: look for a byte order mark once three bytes are in (or the input ended).
      if (pending.length < 3 && !done) continue;
      started = true;
      if (pending[0] === 0xff && pending[1] === 0xfe) {
        // UTF-16: csv-parse reads it all.
        yield* fallBack(pending, source, 0, 0);
        return;
      }
      if (pending[0] === UTF8_BOM[0] && pending[1] === UTF8_BOM[1] && pending[2] === UTF8_BOM[2]) {
        bom = pending.subarray(0, 3);
        pending = pending.subarray(3);
        consumed = 3;
      }
    }
    const end = done ? pending.length : pending.lastIndexOf(NEWLINE) + 1;
    if (end === 0) continue;
    const text = pending.toString('utf8', 0, end);
    let start = 0;
    while (start < text.length) {
      let stop = text.indexOf('\n', start);
      const last = stop === -1;
      if (last) stop = text.length;
      let content = text.slice(start, stop);
      if (content.endsWith('\r')) content = content.slice(0, -1);
      if (!lineEndSeen && content.includes('\r')) {
        // CR line ends: csv-parse finds them out from the first record, and reads them all.
        yield* fallBack(Buffer.concat([...(bom ? [bom] : []), ...head, pending]), source, 0, 0);
        return;
      }
      line++;
      assembler.accept(content, line);
      if (!assembler.inRecord) lineEndSeen = true;
      if (assembler.records.length + assembler.faults.length >= BATCH) yield batch(consumed + Buffer.byteLength(text.slice(0, stop + 1), 'utf8'));
      // A last line without a line break ends the input.
      if (last) break;
      start = stop + 1;
    }
    if (!lineEndSeen) head.push(pending.subarray(0, end));
    consumed += end;
    pending = pending.subarray(end);
  }
  assembler.end();
  if (assembler.records.length + assembler.faults.length > 0) yield batch(consumed);
}

const CARRIAGE_RETURN = 0x0d;
const CR = Buffer.from([CARRIAGE_RETURN]);

/**
 * The pieces with every CRLF as LF. With LF as its record delimiter (the empty lines put before
 * the rest fix it so), csv-parse counts each CR of a CRLF as a line of its own, and every line
 * number after a CRLF line would be one too high per CRLF. A CR that ends a piece waits for the
 * next piece's first byte.
 */
export async function* crlfAsLf(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let heldCr = false;
  for await (const read of pieces) {
    let piece: Buffer = heldCr && read[0] !== NEWLINE ? Buffer.concat([CR, read]) : read;
    heldCr = piece.length > 0 && piece[piece.length - 1] === CARRIAGE_RETURN;
    if (heldCr) piece = piece.subarray(0, -1);
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = piece.indexOf('\r\n', 0); at !== -1; at = piece.indexOf('\r\n', from)) {
      parts.push(piece.subarray(from, at));
      from = at + 1;
    }
    yield parts.length === 0 ? piece : Buffer.concat([...parts, piece.subarray(from)]);
  }
  if (heldCr) yield CR;
}

/**
 * Hands the rest of the input to csv-parse: `skippedLines` empty lines first (skipped, but
 * counted, and they fix the record delimiter to LF as the lines read did), then `head`, then
 * what the stream still holds, every CRLF read as LF (see crlfAsLf; the bytes counted for
 * progress leave out the CRs).
 */
async function* fallBack(head: Buffer, source: AsyncIterator<unknown>, skippedLines: number, skippedBytes: number): AsyncGenerator<CsvBatch> {
  async function* rest(): AsyncGenerator<Buffer> {
    if (skippedLines > 0) yield Buffer.alloc(skippedLines, NEWLINE);
    if (head.length > 0) yield head;
    for (;;) {
      const read = await source.next();
      if (read.done) return;
      const chunk: unknown = read.value;
      yield asBuffer(chunk);
    }
  }
  let records: string[][] = [];
  let lines: number[] = [];
  let skipped: CsvFault[] = [];
  let lastLine = skippedLines;
  let bytes = skippedBytes;
  const skip = (error: CsvError | undefined): undefined => {
    if (!error) return undefined;
    // csv-parse names the end of the file for a quote never closed; where it opened is what helps.
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') skipped.push({ line: lastLine + 1, message: `a quoted field opened after line ${lastLine} is never closed: the lines after it could not be read`, code: error.code });
    else skipped.push({ line: (error as CsvError & { lines?: number }).lines ?? 0, message: error.message, code: error.code });
    return undefined;
  };
  // Records are taken as csv-parse finds them: one it found but had not handed over when it
  // failed would otherwise be lost with the stream.
  const found = (value: string[]): string[] => {
    // With `info`, csv-parse hands over the record with its info.
    const { record, info } = value as unknown as { record: string[]; info: { lines: number; bytes: number } };
    records.push(record);
    lines.push(info.lines);
    lastLine = info.lines;
    bytes = skippedBytes + info.bytes - skippedLines;
    return value;
  };
  const parser = Readable.from(crlfAsLf(rest()), { objectMode: false }).pipe(parse({ ...CSV_OPTIONS, on_record: found, on_skip: skip }));
  try {
    for await (const _ of parser) {
      if (records.length + skipped.length >= BATCH) {
        yield { records, lines, bytes, skipped };
        records = [];
        lines = [];
        skipped = [];
      }
    }
  } catch (error) {
    yield { records, lines, bytes, skipped, error: { line: (error as CsvError & { lines?: number }).lines ?? 0, message: (error as Error).message } };
    return;
  }
  if (records.length + skipped.length > 0) yield { records, lines, bytes, skipped };
}

/**
 * The records of a whole text (a rate deck, a tariff plan file), read as readCsvRecords reads a
 * stream: `lines[i]` is the line `records[i]` ended on, and a record csv-parse cannot read is a
 * fault of its own, the lines after it read on.
 */
export function readCsvText(text: string): { records: string[][]; lines: number[]; faults: CsvFault[] } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const assembler = new RecordAssembler();
  const lines = body.split('\n');
  // A last line break ends the last line; it starts none.
  if (lines.at(-1) === '') lines.pop();
  let lineEndSeen = false;
  for (let index = 0; index < lines.length; index++) {
    let content = lines[index]!;
    if (content.endsWith('\r')) content = content.slice(0, -1);
    if (!lineEndSeen && content.includes('\r')) return readWithCsvParse(text);
    assembler.accept(content, index + 1);
    if (!assembler.inRecord) lineEndSeen = true;
  }
  assembler.end();
  return { records: assembler.records, lines: assembler.lines, faults: assembler.faults };
}

/** A text with CR line ends, as csv-parse reads it (see readCsvRecords). */
function readWithCsvParse(text: string): { records: string[][]; lines: number[]; faults: CsvFault[] } {
  const faults: CsvFault[] = [];
  const read = parseRecord(text, {
    ...CSV_OPTIONS,
    on_skip: (error: CsvError | undefined) => {
      if (error) faults.push({ line: (error as CsvError & { lines?: number }).lines ?? 0, message: error.message, code: error.code });
      return undefined;
    },
  }) as unknown as { record: string[]; info: { lines: number } }[];
  return { records: read.map((row) => row.record), lines: read.map((row) => row.info.lines), faults };
}
