// The pricing worker (see pricing-thread.ts): parses and prices a CDR file handed over piece by
// piece, reading the database through the thread that started it, and sends back its chunks.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Rating } from '../../rating/rating.ts';
import type { QueryResult, Queryable, SqlValue } from '../../store/database.ts';
import { priceCdrs, type PricingOptions } from './cdr-pricer.ts';
import { PRICED_AHEAD, type FromPricingWorker, type ToPricingWorker } from './pricing-thread.ts';

const port = parentPort!;
const post = (message: FromPricingWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const replies = new Map<number, { resolve: (result: QueryResult<never>) => void; reject: (error: Error) => void }>();
let nextQuery = 0;
let received: ((piece: { data?: Uint8Array | string }) => void) | undefined;
let creditGiven: (() => void) | undefined;
let unanswered = 0;
let now = (workerData as { now: number }).now;

port.on('message', (message: ToPricingWorker) => {
  switch (message.type) {
    case 'reply': {
      const waiting = replies.get(message.id)!;
      replies.delete(message.id);
      if (message.error) waiting.reject(Object.assign(new Error(message.error.message), message.error.code ? { code: message.error.code } : {}));
      else waiting.resolve({ rows: (message.rows ?? []) as never[], affectedRows: 0 });
      break;
    }
    case 'input':
      now = message.now;
      received?.({ data: message.data });
      break;
    case 'end':
      received?.({});
      break;
    case 'more':
      unanswered--;
      creditGiven?.();
      creditGiven = undefined;
      break;
  }
});

/** The starting thread's database, for reads only. */
const db: Queryable = {
  query: <Row>(sql: string, params: readonly SqlValue[] = []) =>
    new Promise<QueryResult<Row>>((resolve, reject) => {
      const id = nextQuery++;
      replies.set(id, { resolve: resolve as (result: QueryResult<never>) => void, reject });
      post({ type: 'query', id, sql, params });
    }),
  exec: () => Promise.reject(new Error('the pricing worker only reads')),
  copyFromCsv: () => Promise.reject(new Error('the pricing worker only reads')),
};

async function* fileInput(): AsyncGenerator<Uint8Array | string> {
  for (;;) {
    const piece = await new Promise<{ data?: Uint8Array | string }>((resolve) => {
      received = resolve;
      post({ type: 'read' });
    });
    if (piece.data === undefined) return;
    yield piece.data;
  }
}

try {
  const { file, options } = workerData as { file?: string; options: PricingOptions };
  for await (const event of priceCdrs({ db, rating: new Rating(db), now: () => new Date(now) }, file ? createReadStream(file) : fileInput(), options)) {
    const { bytes, lines, skipped, problems, chunk } = event;
    if (!chunk) {
      post({ type: 'event', bytes, lines, skipped, problems });
      continue;
    }
    while (unanswered >= PRICED_AHEAD) await new Promise<void>((resolve) => (creditGiven = resolve));
    unanswered++;
    const { message, transfer } = chunk.toMessage();
    post({ type: 'event', bytes, lines, skipped, problems, chunk: message }, transfer);
  }
  post({ type: 'done' });
} catch (error) {
  post({ type: 'failed', message: error instanceof Error ? error.message : String(error), ...(error instanceof Error && error.stack ? { stack: error.stack } : {}) });
}
