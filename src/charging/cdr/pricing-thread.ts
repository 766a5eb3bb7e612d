import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqlValue } from '../../store/database.ts';
import type { CdrProblem, PricingEvent, PricingOptions, PricingSource } from './cdr-pricer.ts';
import type { CsvInput } from '../../csv/csv-reader.ts';
import { PricedChunk, type PricedChunkMessage } from './priced-chunk.ts';

/** What the pricing worker says. */
export type FromPricingWorker =
  | { readonly type: 'query'; readonly id: number; readonly sql: string; readonly params: readonly SqlValue[] }
  | { readonly type: 'read' }
  | { readonly type: 'event'; readonly bytes: number; readonly lines: number; readonly skipped: number; readonly problems: CdrProblem[]; readonly chunk?: PricedChunkMessage }
  | { readonly type: 'done' }
  | { readonly type: 'failed'; readonly message: string; readonly stack?: string };

/** What it is told. */
export type ToPricingWorker =
  | { readonly type: 'reply'; readonly id: number; readonly rows?: unknown[]; readonly error?: { readonly message: string; readonly code?: string } }
  | { readonly type: 'input'; readonly data: Uint8Array | string; readonly now: number }
  | { readonly type: 'end' }
  | { readonly type: 'more' };

/** Chunks the worker may price ahead of the ones handed to storing. */
export const PRICED_AHEAD = 2;

/**
 * The worker's first lines, in plain JavaScript: Ringbill is TypeScript run through tsx, whose
 * loader a worker thread does not inherit, so the worker registers it before loading its module.
 */
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.tsx)
  .then((tsx) => {
    (tsx.register ?? tsx.default.register)();
    return import(workerData.entry);
  })
  .catch((error) => parentPort.postMessage({ type: 'failed', message: String(error && error.message), stack: error && error.stack }));
`;

/**
 * `priceCdrs` run in a worker thread: the lines are parsed and priced there while this thread
 * stores the chunks before. The worker reads the database through this thread (it sends each
 * query here), so it works on any database, PGlite's included, which only the thread that opened
 * it may use; it reads a file itself, and a stream piece by piece from this thread. A file is
 * better: PGlite runs each COPY in this thread without pause, and a worker waiting for its next
 * piece of a stream waits for the COPY.
 */
export async function* priceCdrsInWorker(source: PricingSource, input: CsvInput | { readonly file: string }, options: PricingOptions): AsyncGenerator<PricingEvent> {
  const file = 'file' in input ? input.file : undefined;
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { tsx: tsxApi(), entry: new URL('./pricing-worker.ts', import.meta.url).href, options, file, now: source.now().getTime() } });
  const reader = 'file' in input ? undefined : input[Symbol.asyncIterator]();
  const events: PricingEvent[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const fail = (error: unknown) => {
    failure ??= { error };
    notify();
  };
  const send = (message: ToPricingWorker) => worker.postMessage(message);
  worker.on('message', (message: FromPricingWorker) => {
    switch (message.type) {
      case 'query':
        source.db.query(message.sql, message.params).then(
          (result) => send({ type: 'reply', id: message.id, rows: result.rows }),
          (error: unknown) => send({ type: 'reply', id: message.id, error: { message: error instanceof Error ? error.message : String(error), ...codeOf(error) } }),
        );
        break;
      case 'read':
        reader!.next().then((read) => send(read.done ? { type: 'end' } : { type: 'input', data: read.value, now: source.now().getTime() }), fail);
        break;
      case 'event':
        events.push({ bytes: message.bytes, lines: message.lines, skipped: message.skipped, problems: message.problems, ...(message.chunk ? { chunk: PricedChunk.fromMessage(message.chunk) } : {}) });
        notify();
        break;
      case 'done':
        finished = true;
        notify();
        break;
      case 'failed':
        fail(Object.assign(new Error(`pricing failed: ${message.message}`), message.stack ? { stack: message.stack } : {}));
        break;
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!finished) fail(new Error(`the pricing worker stopped before the end of the file (exit code ${code})`));
  });
  try {
    for (;;) {
      const event = events.shift();
      if (event) {
        yield event;
        // Taken: the worker may price one more.
        if (event.chunk) send({ type: 'more' });
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    await worker.terminate();
  }
}

/**
 * Where tsx's ESM API is, as its package's exports map says: a worker's code is not a module of
 * this package, so it cannot name the package and have it resolved.
 */
function tsxApi(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exports = (require(manifest) as { exports: Record<string, { import: { default: string } }> }).exports;
  return pathToFileURL(path.join(path.dirname(manifest), exports['./esm/api']!.import.default)).href;
}

function codeOf(error: unknown): { code?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { code } : {};
}
