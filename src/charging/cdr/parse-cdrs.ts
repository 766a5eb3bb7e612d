import { parse } from 'csv-parse';
import type { Readable } from 'node:stream';
import { SERVICES, type Service } from '../../rating/rate-plan.ts';
import { fingerprint, parseCount, parseSwitchTime, type CdrFormat, type CdrLine } from './cdr.ts';

export interface ParseOptions {
  format: CdrFormat;
  /** The zone local times in the file are in (Asterisk and FreeSWITCH write local time). */
  timeZone: string;
}

/** Asterisk cdr_csv (Master.csv): positional, no header; uniqueid and userfield optional. */
function asterisk(fields: string[], line: number, timeZone: string): CdrLine {
  if (fields.length < 16) return { kind: 'malformed', line, reason: `expected at least 16 fields (Asterisk cdr_csv), found ${fields.length}` };
  const [accountCode, , destination, , , , , , , start, , end, , billsec] = fields;
  const uniqueId = fields[16]?.trim();
  return toLine(line, { accountCode: accountCode!, destination: destination!, start: start!, end: end!, quantity: billsec!, id: uniqueId, service: 'voice' }, fields, timeZone);
}

/** FreeSWITCH mod_cdr_csv default template: name, number, destination, context, start, answer, end, duration, billsec, cause, uuid, bleg uuid, accountcode, ... */
function freeswitch(fields: string[], line: number, timeZone: string): CdrLine {
  if (fields.length < 13) return { kind: 'malformed', line, reason: `expected at least 13 fields (FreeSWITCH default template), found ${fields.length}` };
  const [, , destination, , start, , end, , billsec, , uuid, , accountCode] = fields;
  return toLine(line, { accountCode: accountCode!, destination: destination!, start: start!, end: end!, quantity: billsec!, id: uuid?.trim(), service: 'voice' }, fields, timeZone);
}

const RINGBILL_COLUMNS = ['call_id', 'account_code', 'destination', 'started_at', 'billed_seconds', 'service', 'quantity'];

/** Ringbill CSV: a header row; see docs/integrations/cdr-files.md. */
function ringbill(record: Record<string, string>, fields: string[], line: number, timeZone: string): CdrLine {
  const service = (record.service?.trim() || 'voice') as Service;
  if (!SERVICES.includes(service)) return { kind: 'malformed', line, reason: `service "${record.service}" is not one of ${SERVICES.join(', ')}` };
  const quantity = service === 'voice' ? (record.billed_seconds ?? '') : record.quantity?.trim() || '1';
  return toLine(line, { accountCode: record.account_code ?? '', destination: record.destination ?? '', start: record.started_at ?? '', end: '', quantity, id: record.call_id?.trim(), service }, fields, timeZone);
}

function toLine(
  line: number,
  raw: { accountCode: string; destination: string; start: string; end: string; quantity: string; id: string | undefined; service: Service },
  fields: readonly string[],
  timeZone: string,
): CdrLine {
  const problems: string[] = [];
  const startedAt = parseSwitchTime(raw.start, timeZone);
  if (!startedAt) problems.push(`start "${raw.start}" is not a date and time`);
  if (raw.end.trim() !== '' && !parseSwitchTime(raw.end, timeZone)) problems.push(`end "${raw.end}" is not a date and time`);
  const quantity = parseCount(raw.quantity);
  if (quantity === undefined) problems.push(`${raw.service === 'voice' ? 'billsec' : 'quantity'} "${raw.quantity}" is not a whole number`);
  const destination = raw.destination.trim().replace(/^\+/, '');
  if (destination === '' && raw.service === 'voice') problems.push('the destination is empty');
  if (raw.accountCode.trim() === '') problems.push('the account code is empty');
  if (problems.length > 0 || !startedAt || quantity === undefined) return { kind: 'malformed', line, reason: problems.join('; ') };
  const externalId = raw.id ? raw.id : fingerprint(fields);
  if (quantity === 0) return { kind: 'unanswered', line, externalId };
  return { kind: 'cdr', cdr: { line, accountCode: raw.accountCode.trim(), destination, startedAt, service: raw.service, quantity, externalId } };
}

/**
 * Reads CDR lines from a stream, one at a time, with the line number each started on. A line the
 * CSV parser itself cannot read ends the file with a malformed line: what came before stands.
 */
export async function* parseCdrs(input: Readable, options: ParseOptions, onBytes?: (bytes: number) => void): AsyncGenerator<CdrLine> {
  const parser = input.pipe(
    parse({
      relax_column_count: true,
      // FreeSWITCH writes a space before its last field.
      ltrim: true,
      rtrim: true,
      skip_empty_lines: true,
      bom: true,
      info: true,
    }),
  );
  let header: string[] | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>) {
      onBytes?.(info.bytes);
      const line = info.lines;
      if (options.format === 'ringbill') {
        if (!header) {
          header = record.map((name) => name.trim().toLowerCase());
          const unknown = header.filter((name) => !RINGBILL_COLUMNS.includes(name));
          if (unknown.length > 0 || !header.includes('account_code') || !header.includes('destination') || !header.includes('started_at')) {
            yield { kind: 'malformed', line, reason: `the header must name the columns (${RINGBILL_COLUMNS.join(', ')}); account_code, destination and started_at are required` };
            return;
          }
          continue;
        }
        const named = Object.fromEntries(header.map((name, index) => [name, record[index] ?? '']));
        yield ringbill(named, record, line, options.timeZone);
      } else if (options.format === 'asterisk') {
        yield asterisk(record, line, options.timeZone);
      } else {
        yield freeswitch(record, line, options.timeZone);
      }
    }
  } catch (error) {
    yield { kind: 'malformed', line: (error as { lines?: number }).lines ?? 0, reason: `unreadable CSV: ${(error as Error).message}` };
  }
}
