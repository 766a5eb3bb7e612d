import { parse, type CsvError } from 'csv-parse';
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

/**
 * Reads CSV records from a stream in batches, as csv-parse with CSV_OPTIONS would, with the
 * line each ended on. Most lines of a CDR file are simple, and a hand-written splitter reads
 * them several times faster than csv-parse; at the first line that is not (a line break inside
 * quotes, a CR, bytes that are not UTF-8, anything csv-parse would refuse or read in its own
 * way), the rest of the input goes to csv-parse itself, preceded by as many empty lines as
 * were read, so that its line numbers, and its errors, are the ones it would have given.
 */
/** A piece of the input as a Buffer: a text as UTF-8, bytes (a Buffer, or a Uint8Array from another thread) as they are. */
function asBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  const bytes = chunk as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A stream of the file's bytes (a Readable, or pieces handed over from another thread). */
export type CsvInput = AsyncIterable<Uint8Array | string>;

export async function* readCsvRecords(input: CsvInput): AsyncGenerator<CsvBatch> {
  const source = input[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  /** Bytes before `pending`, and lines before it. */
  let consumed = 0;
  let line = 0;
  let records: string[][] = [];
  let lines: number[] = [];
  let started = false;
  let done = false;
  /** The input's first bytes, when they are a UTF-8 byte order mark. */
  let bom: Buffer | undefined;

  const next = async (): Promise<Buffer | undefined> => {
    const read = await source.next();
    if (read.done) return undefined;
    const chunk: unknown = read.value;
    return asBuffer(chunk);
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
        // Should the first line need csv-parse, it gets the mark too.
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
      const content = text.slice(start, stop);
      const fields = needsCsvParse(content) ? undefined : isBlank(content) ? null : splitCsvLine(content);
      if (fields === undefined) {
        if (records.length > 0) yield { records, lines, bytes: consumed };
        const offset = Buffer.byteLength(text.slice(0, start), 'utf8');
        const rest = pending.subarray(offset);
        // Before anything was read, csv-parse reads the input from its first byte, mark included.
        if (line === 0 && bom) yield* fallBack(Buffer.concat([bom, rest]), source, 0, 0);
        else yield* fallBack(rest, source, line, consumed + offset);
        return;
      }
      line++;
      if (fields !== null) {
        records.push(fields);
        lines.push(line);
        if (records.length >= BATCH) {
          yield { records, lines, bytes: consumed + Buffer.byteLength(text.slice(0, stop + 1), 'utf8') };
          records = [];
          lines = [];
        }
      }
      // A last line without a line break ends the input.
      if (last) break;
      start = stop + 1;
    }
    consumed += end;
    pending = pending.subarray(end);
  }
  if (records.length > 0) yield { records, lines, bytes: consumed };
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
