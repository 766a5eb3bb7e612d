import { parse, type CsvError } from 'csv-parse/sync';

/**
 * How a line the splitter leaves is read: csv-parse, on that one line. FreeSWITCH writes a space
 * before its last field, hence the trimming.
 */
export const LINE_OPTIONS = { relax_column_count: true, ltrim: true, rtrim: true, skip_empty_lines: true, record_delimiter: '\n' } as const;

/** Records read together; `lines[i]` is the line of `records[i]`. */
export interface CsvBatch {
  readonly records: string[][];
  readonly lines: number[];
  /** Bytes of the input read so far. */
  readonly bytes: number;
  /** Lines that could not be read as CSV, each with its fault. */
  readonly skipped?: readonly CsvFault[];
  /** The input's last line, when no line break ended it: perhaps cut short (a file still being written). */
  readonly unterminated?: number;
}

export interface CsvFault {
  readonly line: number;
  readonly message: string;
  /** csv-parse's code for the fault, such as CSV_INVALID_CLOSING_QUOTE. */
  readonly code?: string;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = [0xef, 0xbb, 0xbf];
/** No CDR or deck line comes near it; a longer one is a fault, not held in memory whole. */
export const MAX_LINE_BYTES = 1 << 20;
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
 * The fields of one line, as csv-parse reads them with LINE_OPTIONS, for the lines that are
 * simple to be sure of: every quoted field closes on the line, and nothing in it is an error
 * or a case where csv-parse has quirks (white space other than space and tab after a closing
 * quote). Undefined otherwise, and the caller hands the line to csv-parse. `line` has no line
 * breaks (neither CR nor LF).
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

/** A piece of the input as a Buffer: a text as UTF-8, bytes (a Buffer, or a Uint8Array from another thread) as they are. */
function asBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  const bytes = chunk as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A stream of the file's bytes (a Readable, or pieces handed over from another thread). */
export type CsvInput = AsyncIterable<Uint8Array | string>;

/**
 * Lines into records, one record per line, with their faults. The splitter reads most lines and
 * csv-parse the rest, each on its own, so that a line that cannot be read (a stray quote, text
 * after a closing quote, a quote left open) is that line's fault alone. No record runs over a
 * line break, even inside quotes: CDR and deck fields hold none, and taking a quote left open
 * for the start of a longer record let a second stray quote further down swallow every line
 * between the two, unread and unreported.
 */
class Lines {
  records: string[][] = [];
  lines: number[] = [];
  faults: CsvFault[] = [];
  /** Lines so far. */
  count = 0;
  /** The last text ended on a CR: an LF that starts the next belongs to it (CRLF). */
  private afterCr = false;

  /**
   * Takes the lines of `text`, which ends with a line break unless the input ends there. Lines
   * end with LF, CRLF or a CR alone, as a text editor counts them.
   */
  take(text: string): void {
    if (text.length === 0) return;
    let start = 0;
    if (this.afterCr) {
      this.afterCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // The next LF and CR, each looked for again only once passed: a text with none of one (a
    // CR-ended deck has no LF) would otherwise be scanned to its end for every line.
    let nextLf = text.indexOf('\n', start);
    let nextCr = text.indexOf('\r', start);
    while (start < text.length) {
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf('\n', start);
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf('\r', start);
      let stop = nextLf === -1 ? text.length : nextLf;
      let next = stop + 1;
      if (nextCr !== -1 && nextCr < stop) {
        // A CR ends the line: with the LF after it (CRLF), or alone.
        next = nextCr + 1 === stop ? stop + 1 : nextCr + 1;
        stop = nextCr;
        // The text ends on it: an LF starting the next text is part of it.
        if (nextCr === text.length - 1) this.afterCr = true;
      }
      this.line(text.slice(start, stop));
      start = next;
    }
  }

  /** The input's last byte so far was a CR ending a line that was not kept. */
  endedOnCr(): void {
    this.afterCr = true;
  }

  /** A line too long to hold: a fault, its text never read. */
  overlong(line = ++this.count): void {
    this.faults.push({ line, message: `the line is longer than ${MAX_LINE_BYTES} bytes`, code: 'LINE_TOO_LONG' });
  }

  private line(content: string): void {
    const line = ++this.count;
    if (isBlank(content)) return;
    // The same limit whether or not the line arrived in one piece with its line break.
    if (content.length > MAX_LINE_BYTES / 4 && Buffer.byteLength(content) > MAX_LINE_BYTES) {
      this.overlong(line);
      return;
    }
    const fields = splitCsvLine(content);
    if (fields) {
      this.records.push(fields);
      this.lines.push(line);
      return;
    }
    try {
      for (const record of parse(content, LINE_OPTIONS) as string[][]) {
        this.records.push(record);
        this.lines.push(line);
      }
    } catch (error) {
      const { code } = error as CsvError;
      // csv-parse numbers the lines of what it was given: one line, so always 1.
      const message = code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is not closed on its line' : (error as Error).message.replace(/ at line \d+/, '');
      this.faults.push({ line, message, code });
    }
  }

  batch(bytes: number): CsvBatch {
    const { records, lines, faults } = this;
    this.records = [];
    this.lines = [];
    this.faults = [];
    return faults.length > 0 ? { records, lines, bytes, skipped: faults } : { records, lines, bytes };
  }
}

/** The fault of a file in UTF-16, which no part of Ringbill reads. */
const UTF16: CsvFault = { line: 1, message: 'the file is UTF-16; Ringbill reads UTF-8 (iconv -f UTF-16 -t UTF-8 converts it)', code: 'UTF16' };

/**
 * Reads CSV records from a stream in batches, one record per line, with its line number (as a
 * text editor counts them: LF, CRLF and CR all end a line); a line that cannot be read is
 * reported and reading goes on at the next (see Lines). A UTF-8 byte order mark is dropped; a
 * UTF-16 file is refused at its first line. Memory is bounded by the longest line, itself
 * bounded by MAX_LINE_BYTES.
 */
export async function* readCsvRecords(input: CsvInput): AsyncGenerator<CsvBatch> {
  const reader = new Lines();
  /** Bytes read and not yet taken: the start of a line whose end has not come. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Bytes taken, and whether the current line is one too long to keep. */
  let consumed = 0;
  let skipping = false;
  let started = false;
  for await (const read of input) {
    let chunk = asBuffer(read);
    if (!started) {
      // Look at the first bytes once three are in.
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < 3) continue;
      chunk = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      started = true;
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
        yield { records: [], lines: [], bytes: chunk.length, skipped: [UTF16] };
        return;
      }
      if (chunk[0] === UTF8_BOM[0] && chunk[1] === UTF8_BOM[1] && chunk[2] === UTF8_BOM[2]) {
        chunk = chunk.subarray(3);
        consumed = 3;
      }
    }
    const end = Math.max(chunk.lastIndexOf(LF), chunk.lastIndexOf(CR)) + 1;
    if (end === 0) {
      // No line ends here: keep it, or, past the limit, drop the line.
      if (skipping) consumed += chunk.length;
      else {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes > MAX_LINE_BYTES) {
          skipping = true;
          consumed += pendingBytes;
          pending = [];
          pendingBytes = 0;
        }
      }
      continue;
    }
    let from = 0;
    if (skipping) {
      // The long line ends at the first line break of this chunk.
      const first = Math.min(...[chunk.indexOf(LF), chunk.indexOf(CR)].filter((at) => at !== -1));
      reader.overlong();
      skipping = false;
      from = first + 1;
      if (chunk[first] === CR) {
        if (from === chunk.length) reader.endedOnCr();
        else if (chunk[from] === LF) from++;
      }
      consumed += from;
    }
    const text = Buffer.concat([...pending, chunk.subarray(from, end)]);
    reader.take(text.toString('utf8'));
    consumed += text.length;
    pending = end < chunk.length ? [chunk.subarray(end)] : [];
    pendingBytes = chunk.length - end;
    if (reader.records.length + reader.faults.length >= BATCH) yield reader.batch(consumed);
  }
  let unterminated: number | undefined;
  if (skipping) reader.overlong();
  else if (pendingBytes > 0) {
    const last = Buffer.concat(pending);
    reader.take(last.toString('utf8'));
    consumed += last.length;
    unterminated = reader.count;
  }
  if (reader.records.length + reader.faults.length > 0) yield { ...reader.batch(consumed), ...(unterminated !== undefined ? { unterminated } : {}) };
}

/**
 * The records of a whole text (a rate deck), read as readCsvRecords reads a stream (`lines[i]` is
 * the line of `records[i]`, and a line that cannot be read is a fault of its own), a piece of
 * about `pieceChars` of text at a time (cut after a line break), so that a caller can pause
 * between pieces and never holds every record of a big deck at once.
 */
export function* readCsvTextInPieces(text: string, pieceChars = 1 << 18): Generator<{ records: string[][]; lines: number[]; faults: CsvFault[] }> {
  const reader = new Lines();
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (start < text.length) {
    let end = Math.min(start + pieceChars, text.length);
    while (end < text.length && text.charCodeAt(end - 1) !== LF && text.charCodeAt(end - 1) !== CR) end++;
    reader.take(text.slice(start, end));
    start = end;
    const { records, lines, skipped } = reader.batch(end);
    yield { records, lines, faults: [...(skipped ?? [])] };
  }
}
