#!/usr/bin/env node
// Ringbill ships as TypeScript and runs through tsx, so `npm install` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
