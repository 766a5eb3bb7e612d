import { hash } from 'node:crypto';
import { newId } from '../../ids.ts';
import type { Organization } from '../../organizations/organization.ts';
import type { Service } from '../../rating/rate-plan.ts';
import { grown } from '../../typed-arrays.ts';
import { usageLine, type UsageLine } from './usage-copy.ts';

/** Why a line is reported a duplicate of one earlier in its file, rated there or rejected. */
export function repeatReason(externalId: string): string {
  return `record ${externalId} appears earlier in this file`;
}

/**
 * A record's organization and id in 96 bits of their SHA-1, for a set of many of a file's
 * records: about 50 bytes a record where the key itself took 150.
 */
export function recordHash(organizationId: string, externalId: string): string {
  return hash('sha1', `${organizationId}\u0000${externalId}`, 'binary').slice(0, 12);
}

/** The largest cost a usage record can store (its column is a PostgreSQL BIGINT). */
export const MAX_RECORD_COST = 2n ** 63n - 1n;

/** Charge ids are `chg_` and a ULID: a record's line ends in one of exactly this length. */
const CHARGE_ID_LENGTH = 30;

/** What a chunk's records are charged under: one charge per organization, service and bill period. */
export interface ChunkCharge {
  readonly id: string;
  /** The organization's place in `PricedChunk.organizations`. */
  readonly organization: number;
  readonly service: Service;
  readonly billPeriod: string;
}

/** What an organization's records in a chunk (those not dropped) add up to. */
export interface ChunkGroup {
  readonly organization: Organization;
  /** Its place in `PricedChunk.organizations`. */
  readonly index: number;
  readonly amount: bigint;
  readonly records: number;
  /** Its charges, with the amount and the earliest start (ms) of their records. */
  readonly charges: readonly { readonly charge: ChunkCharge; readonly amount: bigint; readonly occurredAt: number }[];
}

/**
 * A chunk of a CDR file's priced records, kept in columns (typed arrays) with each record's COPY
 * line written into one byte buffer as it is priced. A chunk lives until it is stored, and a
 * record kept as objects and strings would be copied by every young-generation collection until
 * then: a million of them cost the collector seconds. Columns cost it nothing.
 */
export class PricedChunk {
  /** CDRs taken in, priced or not. */
  size = 0;
  /** Records priced into the chunk, dropped ones included. */
  count = 0;
  readonly organizations: Organization[] = [];
  readonly charges: ChunkCharge[] = [];
  /** The file's line number of each record. */
  lines: Int32Array;
  /** Each record's organization (its place in `organizations`). */
  private organizationOf: Int32Array;
  /** Each record's charge (its place in `charges`), -1 for a free one. */
  private chargeOf: Int32Array;
  private costs: BigInt64Array;
  /** Each record's start, ms since the epoch. */
  private startedAt: Float64Array;
  private dropped: Uint8Array;
  /** Each record's COPY line. */
  private text: TextColumn;
  /** Each record's id in its source. */
  private ids: TextColumn;
  private readonly organizationIndex = new Map<string, number>();
  private readonly chargeIndex = new Map<string, number>();
  /** Each organization's last charge: a run of its records mostly has one service and period. */
  private readonly lastCharge: number[] = [];

  constructor(capacity: number) {
    const records = Math.max(1, capacity);
    this.lines = new Int32Array(records);
    this.organizationOf = new Int32Array(records);
    this.chargeOf = new Int32Array(records);
    this.costs = new BigInt64Array(records);
    this.startedAt = new Float64Array(records);
    this.dropped = new Uint8Array(records);
    this.text = new TextColumn(records, 300);
    this.ids = new TextColumn(records, 24);
  }

  /**
   * The chunk as a message to another thread, and the memory to transfer with it (not copied):
   * the sender must not use the chunk after.
   */
  toMessage(): { message: PricedChunkMessage; transfer: ArrayBuffer[] } {
    const text = this.text.toMessage();
    const ids = this.ids.toMessage();
    const columns = [this.lines, this.organizationOf, this.chargeOf, this.costs, this.startedAt, this.dropped];
    return {
      message: {
        size: this.size,
        count: this.count,
        organizations: this.organizations,
        charges: this.charges,
        lines: this.lines,
        organizationOf: this.organizationOf,
        chargeOf: this.chargeOf,
        costs: this.costs,
        startedAt: this.startedAt,
        dropped: this.dropped,
        text,
        ids,
      },
      transfer: [...columns.map((column) => column.buffer as ArrayBuffer), text.buffer.buffer as ArrayBuffer, text.ends.buffer as ArrayBuffer, ids.buffer.buffer as ArrayBuffer, ids.ends.buffer as ArrayBuffer],
    };
  }

  /** The chunk a `toMessage` message describes. */
  static fromMessage(message: PricedChunkMessage): PricedChunk {
    const chunk = new PricedChunk(0);
    chunk.size = message.size;
    chunk.count = message.count;
    chunk.lines = message.lines;
    chunk.organizationOf = message.organizationOf;
    chunk.chargeOf = message.chargeOf;
    chunk.costs = message.costs;
    chunk.startedAt = message.startedAt;
    chunk.dropped = message.dropped;
    chunk.text = TextColumn.fromMessage(message.text);
    chunk.ids = TextColumn.fromMessage(message.ids);
    for (const organization of message.organizations) chunk.indexOf(organization);
    message.charges.forEach((charge, index) => {
      chunk.charges.push(charge);
      chunk.chargeIndex.set(`${charge.organization}|${charge.service}|${charge.billPeriod}`, index);
    });
    return chunk;
  }

  /** The record's id in its source. */
  externalId(record: number): string {
    return this.ids.get(record);
  }

  /**
   * Drops each record whose organization has a record of the same id earlier in the chunk, and
   * answers them. A file rarely repeats a record, so this is looked for only when storing the
   * chunk fails on one, or when nothing is stored.
   */
  dropRepeats(): number[] {
    const seen = new Set<string>();
    const repeats: number[] = [];
    for (const record of this.live()) {
      const key = `${this.organizationOf[record]}\u0000${this.externalId(record)}`;
      if (!seen.has(key)) seen.add(key);
      else {
        this.drop(record);
        repeats.push(record);
      }
    }
    return repeats;
  }

  /** Adds a priced record, its cost at most MAX_RECORD_COST, under its organization's charge for its service and period. */
  add(line: number, organization: Organization, record: UsageLine): void {
    const index = this.indexOf(organization);
    const charge = record.cost === 0n ? -1 : this.chargeFor(index, record.service, record.billPeriod);
    this.append(line, index, charge, record.cost, record.startedAt.getTime(), record.externalId, usageLine(record, charge === -1 ? null : this.charges[charge]!.id));
  }

  /** Takes a record out: it is neither charged nor stored. */
  drop(record: number): void {
    this.dropped[record] = 1;
  }

  /** The records not dropped, in the order they were added; of the given organizations only, when given. */
  *live(organizations?: ReadonlySet<number>): Generator<number> {
    for (let record = 0; record < this.count; record++) {
      if (this.dropped[record] === 0 && (!organizations || organizations.has(this.organizationOf[record]!))) yield record;
    }
  }

  organizationOfRecord(record: number): Organization {
    return this.organizations[this.organizationOf[record]!]!;
  }

  /** Each organization's records not dropped, added up; organizations without any are left out. */
  groups(): ChunkGroup[] {
    const groups = new Map<number, { amount: bigint; records: number; charges: Map<number, { amount: bigint; occurredAt: number }> }>();
    for (const record of this.live()) {
      const organization = this.organizationOf[record]!;
      const cost = this.costs[record]!;
      let group = groups.get(organization);
      if (!group) groups.set(organization, (group = { amount: 0n, records: 0, charges: new Map() }));
      group.amount += cost;
      group.records++;
      const charge = this.chargeOf[record]!;
      if (charge === -1) continue;
      const started = this.startedAt[record]!;
      const total = group.charges.get(charge);
      if (total) {
        total.amount += cost;
        if (started < total.occurredAt) total.occurredAt = started;
      } else group.charges.set(charge, { amount: cost, occurredAt: started });
    }
    return [...groups].map(([index, group]) => ({
      organization: this.organizations[index]!,
      index,
      amount: group.amount,
      records: group.records,
      charges: [...group.charges].map(([charge, total]) => ({ charge: this.charges[charge]!, ...total })),
    }));
  }

  /**
   * The COPY text of the records not dropped whose organization is `included`, in pieces of at
   * most `pieceSize` records. A run of records taken whole is a view of the buffer, not a copy.
   */
  *copyPieces(included: (organization: number) => boolean, pieceSize: number): Generator<Uint8Array> {
    let segments: Uint8Array[] = [];
    let records = 0;
    let runStart = -1;
    const endRun = (record: number) => {
      if (runStart !== -1) segments.push(this.text.bytes(runStart, record));
      runStart = -1;
    };
    for (let record = 0; record < this.count; record++) {
      if (this.dropped[record] === 1 || !included(this.organizationOf[record]!)) {
        endRun(record);
        continue;
      }
      if (runStart === -1) runStart = record;
      if (++records === pieceSize) {
        endRun(record + 1);
        yield segments.length === 1 ? segments[0]! : Buffer.concat(segments);
        segments = [];
        records = 0;
      }
    }
    endRun(this.count);
    if (records > 0) yield segments.length === 1 ? segments[0]! : Buffer.concat(segments);
  }

  costOf(record: number): bigint {
    return this.costs[record]!;
  }

  /**
   * A chunk of the given records (in the order given), under charges of its own: for charging
   * an organization's records that its credit covers when it does not cover all of them.
   */
  subset(records: readonly number[]): PricedChunk {
    const part = new PricedChunk(records.length);
    for (const record of records) {
      const organization = part.indexOf(this.organizationOfRecord(record));
      let line = this.text.get(record);
      let charge = -1;
      const was = this.chargeOf[record]!;
      if (was !== -1) {
        const { service, billPeriod } = this.charges[was]!;
        charge = part.chargeFor(organization, service, billPeriod);
        line = `${line.slice(0, -CHARGE_ID_LENGTH - 1)}${part.charges[charge]!.id}\n`;
      }
      part.append(this.lines[record]!, organization, charge, this.costs[record]!, this.startedAt[record]!, this.externalId(record), line);
    }
    part.size = records.length;
    return part;
  }

  private indexOf(organization: Organization): number {
    let index = this.organizationIndex.get(organization.id);
    if (index === undefined) {
      index = this.organizations.length;
      this.organizations.push(organization);
      this.organizationIndex.set(organization.id, index);
      this.lastCharge.push(-1);
    }
    return index;
  }

  private chargeFor(organization: number, service: Service, billPeriod: string): number {
    const last = this.lastCharge[organization]!;
    if (last !== -1) {
      const charge = this.charges[last]!;
      if (charge.service === service && charge.billPeriod === billPeriod) return last;
    }
    const key = `${organization}|${service}|${billPeriod}`;
    let index = this.chargeIndex.get(key);
    if (index === undefined) {
      index = this.charges.length;
      const id = newId('chg');
      if (id.length !== CHARGE_ID_LENGTH) throw new Error(`charge ids are ${CHARGE_ID_LENGTH} characters long, not ${id.length}`);
      this.charges.push({ id, organization, service, billPeriod });
      this.chargeIndex.set(key, index);
    }
    this.lastCharge[organization] = index;
    return index;
  }

  private append(line: number, organization: number, charge: number, cost: bigint, startedAt: number, externalId: string, text: string): void {
    if (this.count === this.lines.length) this.growRecords();
    const record = this.count++;
    this.lines[record] = line;
    this.organizationOf[record] = organization;
    this.chargeOf[record] = charge;
    this.costs[record] = cost;
    this.startedAt[record] = startedAt;
    this.ids.push(externalId);
    this.text.push(text);
  }

  private growRecords(): void {
    const size = this.lines.length * 2;
    this.lines = grown(this.lines, size);
    this.organizationOf = grown(this.organizationOf, size);
    this.chargeOf = grown(this.chargeOf, size);
    this.costs = grown(this.costs, size);
    this.startedAt = grown(this.startedAt, size);
    this.dropped = grown(this.dropped, size);
  }
}

/** A chunk as `PricedChunk.toMessage` sends it to another thread. */
export interface PricedChunkMessage {
  readonly size: number;
  readonly count: number;
  readonly organizations: Organization[];
  readonly charges: ChunkCharge[];
  readonly lines: Int32Array;
  readonly organizationOf: Int32Array;
  readonly chargeOf: Int32Array;
  readonly costs: BigInt64Array;
  readonly startedAt: Float64Array;
  readonly dropped: Uint8Array;
  readonly text: TextColumnMessage;
  readonly ids: TextColumnMessage;
}

interface TextColumnMessage {
  readonly buffer: Uint8Array;
  readonly length: number;
  readonly ends: Int32Array;
  readonly settled: number;
}

/** Texts per UTF-8 encoding call: one call per text cost more than the encoding. */
const ENCODE_BATCH = 128;

/**
 * One text per record, as UTF-8 in one byte buffer (outside the JavaScript heap, so the collector
 * never copies it). Texts are encoded a batch at a time; reading settles the batch first.
 */
class TextColumn {
  private buffer: Buffer;
  private length = 0;
  /** Where each text ends in `buffer`; it starts where the one before ends. */
  private ends: Int32Array;
  private settled = 0;
  private pending: string[] = [];

  constructor(records: number, bytesPerRecord: number) {
    // Never from Node's shared pool: the buffer may be transferred to another thread.
    this.buffer = Buffer.allocUnsafeSlow(records * bytesPerRecord);
    this.ends = new Int32Array(records);
  }

  toMessage(): TextColumnMessage {
    this.settle();
    return { buffer: this.buffer, length: this.length, ends: this.ends, settled: this.settled };
  }

  static fromMessage(message: TextColumnMessage): TextColumn {
    const column = new TextColumn(0, 0);
    column.buffer = Buffer.from(message.buffer.buffer, message.buffer.byteOffset, message.buffer.byteLength);
    column.length = message.length;
    column.ends = message.ends;
    column.settled = message.settled;
    return column;
  }

  push(text: string): void {
    this.pending.push(text);
    if (this.pending.length === ENCODE_BATCH) this.settle();
  }

  get(record: number): string {
    this.settle();
    return this.buffer.toString('utf8', this.start(record), this.ends[record]);
  }

  /** The bytes of texts `from` up to `to` (not included): a view, not a copy. */
  bytes(from: number, to: number): Uint8Array {
    this.settle();
    return this.buffer.subarray(this.start(from), this.ends[to - 1]);
  }

  private start(record: number): number {
    return record === 0 ? 0 : this.ends[record - 1]!;
  }

  private settle(): void {
    if (this.pending.length === 0) return;
    const texts = this.pending;
    this.pending = [];
    const joined = texts.join('');
    // UTF-8 takes at most three bytes per UTF-16 unit.
    if (this.length + joined.length * 3 > this.buffer.length) this.growBuffer(this.length + joined.length * 3);
    if (this.settled + texts.length > this.ends.length) this.ends = grown(this.ends, Math.max(this.settled + texts.length, this.ends.length * 2));
    const written = this.buffer.write(joined, this.length);
    // As many bytes as units: all ASCII, and each text's bytes are its units.
    const ascii = written === joined.length;
    let end = this.length;
    for (const text of texts) {
      end += ascii ? text.length : Buffer.byteLength(text);
      this.ends[this.settled++] = end;
    }
    this.length += written;
  }

  private growBuffer(needed: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }
}
