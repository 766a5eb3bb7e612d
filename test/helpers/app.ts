import { readFileSync } from 'node:fs';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { seedEnvironmentOperatorKey } from '../../src/auth/api-keys.ts';
import { TestClock } from '../../src/clock/clock.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { createServices, type Services } from '../../src/services.ts';
import { openTestDatabase, type TestDatabase } from './database.ts';

export const OPERATOR_KEY = 'rb_op_test_operator_key_0123456789';

export interface TestApp {
  app: App;
  services: Services;
  clock: TestClock;
  database: TestDatabase;
  /** Calls the app in-process as the operator, or with `key`. */
  call(options: InjectOptions & { key?: string | null }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startTestApp(options: { testClock?: boolean; start?: Date } = {}): Promise<TestApp> {
  const database = await openTestDatabase();
  const clock = new TestClock(options.start ?? new Date('2026-11-01T00:00:00Z'));
  const services = createServices(database.db, clock);
  await seedEnvironmentOperatorKey(database.db, clock, OPERATOR_KEY);
  const app = await buildApp({ services, testClock: options.testClock ?? true });
  return {
    app,
    services,
    clock,
    database,
    call({ key, headers, ...rest }) {
      const authorization = key === null ? {} : { authorization: `Bearer ${key ?? OPERATOR_KEY}` };
      return app.inject({ ...rest, headers: { ...authorization, ...headers } });
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

/** The samples' rate deck (test/fixtures/rate-deck.csv), or `csv`, made the default deck, in force from 2026. */
export async function importDefaultDeck(t: TestApp, csv = readFileSync(new URL('../fixtures/rate-deck.csv', import.meta.url), 'utf8')): Promise<LightMyRequestResponse> {
  const imported = await t.call({ method: 'POST', url: '/v1/rate-decks?name=retail&default=true&effectiveFrom=2026-01-01T00:00:00Z', payload: csv, headers: { 'content-type': 'text/csv' } });
  if (imported.statusCode !== 201) throw new Error(`the test deck was refused: ${imported.body}`);
  return imported;
}
