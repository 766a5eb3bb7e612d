#!/usr/bin/env node
// Ringbill ships as TypeScript and runs through tsx, so `npm install` needs no build step.
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// V8 moves objects made where many of them once outlived a young-generation collection straight
// into the old generation. Rating a CDR file makes millions of short-lived objects in a few
// places, and once V8 decided so, every one of them lived until the next full collection: the
// collector's time tripled (docs/performance.md). Ringbill's long-lived data is in typed arrays.
setFlagsFromString('--no-allocation-site-pretenuring');
register();
await import('../src/cli/main.ts');
