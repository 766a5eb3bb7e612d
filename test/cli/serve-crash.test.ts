import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchemaUrl, testDatabaseKind } from '../helpers/database.ts';
import { runCli, startServer, waitForExit, type RunningServer } from '../helpers/process.ts';

const OPERATOR_KEY = 'rb_op_crash_test_operator_key_000';
const TOTAL = 1000;

describe(`a server killed in the middle of 1,000 transfers, on ${testDatabaseKind}`, () => {
  let dataDir: string;
  let schema: Awaited<ReturnType<typeof createTestSchemaUrl>>;
  let env: NodeJS.ProcessEnv;
  let args: string[];
  let server: RunningServer | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ringbill-crash-'));
    schema = await createTestSchemaUrl();
    env = { RINGBILL_OPERATOR_KEY: OPERATOR_KEY, ...(schema ? { DATABASE_URL: schema.url } : {}) };
    args = schema ? [] : ['--data-dir', path.join(dataDir, 'data')];
  });

  afterAll(async () => {
    server?.process.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    await schema?.drop();
  });

  async function api(method: string, url: string, body?: unknown, idempotencyKey?: string) {
    const response = await fetch(`${server!.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${OPERATOR_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('loses nothing and duplicates nothing', async () => {
    server = await startServer(args, env);

    if (!schema) {
      // While the server holds the embedded database, no other process may open it.
      const refused = await runCli(['ledger', 'verify', ...args], env);
      expect(refused.code).toBe(75);
      expect(refused.stderr).toContain(`pid ${server.process.pid}`);
      expect(refused.stderr).toContain(server.url);
    }

    const bank = (await api('POST', '/v1/accounts', { code: 'bank', currency: 'SGD' })).json;
    const org = (await api('POST', '/v1/organizations', { name: 'Crash Co', currency: 'SGD' })).json as { id: string; accounts: Record<string, string> };
    const wallet = org.accounts.credit!;
    const body = (i: number) => ({ debitAccountId: bank.id, creditAccountId: wallet, amount: '1.00', code: 'topup', metadata: { n: i } });

    // Fire all 1,000 with 25 in flight; kill the server once about a third have been answered.
    const answered = new Map<number, string>();
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        try {
          const response = await api('POST', '/v1/transfers', body(i), `crash-${i}`);
          if (response.status === 201) answered.set(i, response.json.id as string);
        } catch {
          // The connection died with the server: this one has no answer.
        }
        if (!killed && answered.size >= 300) {
          killed = true;
          server!.process.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 25 }, worker));
    await waitForExit(server.process);
    expect(killed).toBe(true);
    expect(answered.size).toBeGreaterThanOrEqual(300);
    expect(answered.size).toBeLessThan(TOTAL);

    server = await startServer(args, env);
    for (const [i, id] of answered) {
      const found = await api('GET', `/v1/transfers/${id}`);
      expect(found.status, `transfer ${i}`).toBe(200);
    }

    // Retry everything with the same keys: answered ones replay, the rest land now, once.
    for (let i = 0; i < TOTAL; i += 50) {
      const batch = Array.from({ length: Math.min(50, TOTAL - i) }, (_, k) => i + k);
      const results = await Promise.all(batch.map((n) => api('POST', '/v1/transfers', body(n), `crash-${n}`)));
      results.forEach((result, k) => {
        expect(result.status).toBe(201);
        const earlier = answered.get(batch[k]!);
        if (earlier) expect(result.json.id).toBe(earlier);
      });
    }
    const account = (await api('GET', `/v1/accounts/${wallet}`)).json;
    expect(account.creditsPosted).toBe('1000.00');
    let count = 0;
    let cursor: string | null = null;
    do {
      const page = (await api('GET', `/v1/organizations/${org.id}/ledger?limit=200${cursor ? `&cursor=${cursor}` : ''}`)).json as {
        data: { metadata: { n: number } }[];
        nextCursor: string | null;
      };
      count += page.data.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(count).toBe(TOTAL);

    server.process.kill('SIGTERM');
    expect(await waitForExit(server.process)).toBe(0);
    server = undefined;
    const verified = await runCli(['ledger', 'verify', ...args], env);
    expect(verified.stdout).toContain('ledger is balanced');
    expect(verified.code).toBe(0);
  }, 180_000);
});
