import { isUsageTime, USAGE_TIME_RANGE } from '../../clock/clock.ts';
import { SERVICES, type Service } from '../../rating/rate-plan.ts';
import { MAX_DESTINATION_LENGTH } from '../../rating/dialled-number.ts';
import { MAX_CALL_SECONDS, MAX_QUANTITY } from '../../rating/price.ts';
import { fingerprint, parseCount, SwitchTimes, type CdrFormat, type CdrLine } from './cdr.ts';
import { readCsvRecords, type CsvInput } from '../../csv/csv-reader.ts';

export interface ParseOptions {
  format: CdrFormat;
  /** The zone local times in the file are in (Asterisk and FreeSWITCH write local time). */
  timeZone: string;
}

/** Asterisk's uniqueid: epoch seconds and a sequence number, after the system name when one is set. */
const ASTERISK_UNIQUE_ID = /^(?:[\w.-]+-)?\d{9,}\.\d+$/;

/** Asterisk cdr_csv (Master.csv): positional, no header; uniqueid and userfield optional. */
function asterisk(fields: string[], line: number, times: SwitchTimes): CdrLine {
  if (fields.length < 16) return { kind: 'malformed', line, reason: `expected at least 16 fields (Asterisk cdr_csv), found ${fields.length}` };
  const [accountCode, , destination, , , , , , , start, , end, duration, billsec] = fields;
  // With 17 fields the last is the uniqueid, or the userfield when loguserfield is on and
  // loguniqueid off: taken for an id, a userfield the dialplan sets to one value would make
  // every later call a duplicate. With 18 it is the uniqueid.
  const seventeenth = fields[16]?.trim();
  const uniqueId = seventeenth && (fields.length >= 18 || ASTERISK_UNIQUE_ID.test(seventeenth)) ? seventeenth : undefined;
  return toLine(line, { accountCode: accountCode!, destination: destination!, start: start!, end: end!, duration: duration!, quantity: billsec!, id: uniqueId, service: 'voice' }, fields, times);
}

/** FreeSWITCH mod_cdr_csv default template: name, number, destination, context, start, answer, end, duration, billsec, cause, uuid, bleg uuid, accountcode, ... */
function freeswitch(fields: string[], line: number, times: SwitchTimes): CdrLine {
  if (fields.length < 13) return { kind: 'malformed', line, reason: `expected at least 13 fields (FreeSWITCH default template), found ${fields.length}` };
  const [, , destination, , start, , end, duration, billsec, , uuid, , accountCode] = fields;
  return toLine(line, { accountCode: accountCode!, destination: destination!, start: start!, end: end!, duration: duration!, quantity: billsec!, id: uuid?.trim(), service: 'voice' }, fields, times);
}

const RINGBILL_COLUMNS = ['call_id', 'account_code', 'destination', 'started_at', 'billed_seconds', 'service', 'quantity'];

/** Ringbill CSV: a header row; see docs/integrations/cdr-files.md. */
function ringbill(record: Record<string, string>, fields: string[], line: number, times: SwitchTimes): CdrLine {
  const service = (record.service?.trim().toLowerCase() || 'voice') as Service;
  if (!SERVICES.includes(service)) return { kind: 'malformed', line, reason: `service "${record.service}" is not one of ${SERVICES.join(', ')}` };
  const quantity = service === 'voice' ? (record.billed_seconds ?? '') : record.quantity?.trim() || '1';
  return toLine(line, { accountCode: record.account_code ?? '', destination: record.destination ?? '', start: record.started_at ?? '', end: '', quantity, id: record.call_id?.trim(), service }, fields, times);
}

const MAX_ACCOUNT_CODE = 80;
const MAX_RECORD_ID = 200;

function toLine(
  line: number,
  raw: { accountCode: string; destination: string; start: string; end: string; duration?: string; quantity: string; id: string | undefined; service: Service },
  fields: readonly string[],
  times: SwitchTimes,
): CdrLine {
  const problems: string[] = [];
  const startedAt = times.parse(raw.start);
  if (Number.isNaN(startedAt)) problems.push(`start "${raw.start}" is not a date and time`);
  else if (!isUsageTime(startedAt)) problems.push(`start "${raw.start}" is not a time ${USAGE_TIME_RANGE}`);
  if (raw.end.trim() !== '' && Number.isNaN(times.parse(raw.end))) problems.push(`end "${raw.end}" is not a date and time`);
  const quantity = parseCount(raw.quantity);
  const unit = raw.service === 'voice' ? 'billsec' : 'quantity';
  if (quantity === undefined) problems.push(`${unit} "${raw.quantity}" is not a whole number`);
  // As a live call and a one-shot event are bounded: a garbled billsec must not charge a fortune.
  else if (raw.service === 'voice' && quantity > MAX_CALL_SECONDS) problems.push(`billsec ${quantity} is longer than a call lasts (at most ${MAX_CALL_SECONDS} s)`);
  else if (raw.service !== 'voice' && quantity > MAX_QUANTITY) problems.push(`quantity ${quantity} is more than one record counts (at most ${MAX_QUANTITY})`);
  // The duration (ringing and talk) only checks the billsec, part of it; some switches leave it empty.
  const duration = raw.duration?.trim() ? parseCount(raw.duration) : null;
  if (duration === undefined) problems.push(`duration "${raw.duration}" is not a whole number`);
  else if (duration !== null && quantity !== undefined && quantity > duration) problems.push(`billsec ${quantity} is more than the call's duration ${duration}`);
  const number = raw.destination.trim();
  const destination = number.charCodeAt(0) === 0x2b ? number.slice(1) : number;
  if (destination === '' && raw.service === 'voice') problems.push('the destination is empty');
  if (raw.accountCode.trim() === '') problems.push('the account code is empty');
  // What the API itself would refuse, refused here line by line, not by the database for the file.
  if (destination.length > MAX_DESTINATION_LENGTH) problems.push(`the destination is longer than ${MAX_DESTINATION_LENGTH} characters`);
  if (raw.accountCode.trim().length > MAX_ACCOUNT_CODE) problems.push(`the account code is longer than ${MAX_ACCOUNT_CODE} characters`);
  if ((raw.id?.length ?? 0) > MAX_RECORD_ID) problems.push(`the record id is longer than ${MAX_RECORD_ID} characters`);
  if ([raw.destination, raw.accountCode, raw.id ?? ''].some((text) => text.includes('\u0000'))) problems.push('a field holds a NUL character');
  if (problems.length > 0 || quantity === undefined) return { kind: 'malformed', line, reason: problems.join('; ') };
  const externalId = raw.id ? raw.id : fingerprint(fields);
  if (quantity === 0) return { kind: 'unanswered', line, externalId };
  return { kind: 'cdr', cdr: { line, accountCode: raw.accountCode.trim(), destination, startedAt: new Date(startedAt), service: raw.service, quantity, externalId: detached(externalId) } };
}

/** CDR lines read together, and the bytes of the input read so far. */
export interface CdrBatch {
  readonly lines: CdrLine[];
  readonly bytes: number;
}

/**
 * Reads CDR lines from a stream, in batches, with the line number each ended on. A line the CSV
 * parser itself cannot read is a malformed line, and the lines after it are read on.
 */
export async function* parseCdrBatches(input: CsvInput, options: ParseOptions): AsyncGenerator<CdrBatch> {
  const times = new SwitchTimes(options.timeZone);
  let header: string[] | undefined;
  for await (const batch of readCsvRecords(input)) {
    const lines: CdrLine[] = [];
    for (let index = 0; index < batch.records.length; index++) {
      const record = batch.records[index]!;
      const line = batch.lines[index]!;
      if (line === batch.unterminated) {
        // Switches end every line with a line break. A file without one after its last line was
        // cut short (a file still being written, a truncated copy), and its last line may be too,
        // at any field: rated as it is, it could be charged for seconds it lost, or (an Asterisk
        // line cut before its uniqueid) charged again under another key once whole.
        lines.push({ kind: 'malformed', line, reason: 'no line break ends this line, the last of the file: it may be cut short, so it is not rated; send the file again once it is complete (a line break after its last line)' });
      } else if (options.format !== 'ringbill') {
        lines.push(options.format === 'asterisk' ? asterisk(record, line, times) : freeswitch(record, line, times));
      } else if (!header) {
        header = record.map((name) => name.trim().toLowerCase());
        const unknown = header.filter((name) => !RINGBILL_COLUMNS.includes(name));
        // A column named twice would be read from its last place, whatever the first held.
        const twice = header.filter((name, column) => header!.indexOf(name) !== column);
        if (unknown.length > 0 || twice.length > 0 || !header.includes('account_code') || !header.includes('destination') || !header.includes('started_at')) {
          const named = twice.length > 0 ? `; ${[...new Set(twice)].join(', ')} named more than once` : '';
          lines.push({ kind: 'malformed', line, reason: `the header must name the columns (${RINGBILL_COLUMNS.join(', ')}) once each; account_code, destination and started_at are required${named}` });
          yield { lines, bytes: batch.bytes };
          return;
        }
      } else if (record.length > header.length) {
        // Fields beyond the header belong to no column: the line is not what the header says.
        lines.push({ kind: 'malformed', line, reason: `${record.length} fields, where the header names ${header.length}` });
      } else {
        const named = Object.fromEntries(header.map((name, column) => [name, record[column] ?? '']));
        lines.push(ringbill(named, record, line, times));
      }
    }
    for (const fault of batch.skipped ?? []) lines.push({ kind: 'malformed', line: fault.line, reason: `unreadable CSV: ${fault.message}` });
    yield { lines, bytes: batch.bytes };
  }
}

/** The lines of `parseCdrBatches` one at a time. */
export async function* parseCdrs(input: CsvInput, options: ParseOptions, onBytes?: (bytes: number) => void): AsyncGenerator<CdrLine> {
  for await (const batch of parseCdrBatches(input, options)) {
    onBytes?.(batch.bytes);
    yield* batch.lines;
  }
}

/**
 * The same text, not a slice of the line. A rated record's id lives until its chunk is stored;
 * V8 makes a slice of 13 characters or more a view that keeps its parent alive, and the parent is
 * the whole piece of the file it was read from: some 16 MB of text per 50,000-line chunk. Put
 * after a space, the text is copied into a new flat string, and only that one stays alive.
 */
export function detached(text: string): string {
  return ` ${text}`.slice(1);
}
