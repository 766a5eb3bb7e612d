import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, waitForExit, type RunningServer } from '../helpers/process.ts';

describe('a server stopped and started again', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ringbill-stop-'));
  let server: RunningServer | undefined;

  afterAll(() => {
    server?.process.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('does not wait for the keep-alive connections of clients that went quiet', async () => {
    server = await startServer(['--data-dir', path.join(dataDir, 'data')], { RINGBILL_OPERATOR_KEY: 'rb_op_stop_test_operator_key_0000' });
    // A client that keeps its connection open after its answer, as switches' HTTP clients do,
    // with a request still arriving when the stop begins.
    const agent = new http.Agent({ keepAlive: true });
    const body = JSON.stringify({ name: 'Stopping Ltd', currency: 'SGD' });
    const answered = new Promise<number>((resolve, reject) => {
      const request = http.request(`${server!.url}/v1/organizations`, {
        method: 'POST',
        agent,
        headers: { authorization: 'Bearer rb_op_stop_test_operator_key_0000', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      request.on('response', (response) => response.resume().on('end', () => resolve(response.statusCode!)));
      request.on('error', reject);
      request.write(body.slice(0, 10));
      setTimeout(() => {
        server!.process.kill('SIGTERM');
        setTimeout(() => request.end(body.slice(10)), 500);
      }, 200);
    });
    expect(await answered).toBe(201);
    // Before, the server waited out the connection's keep-alive time (72 s) before it exited.
    const exited = await Promise.race([waitForExit(server.process), new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    agent.destroy();
    expect(exited).toBe(0);
    server = undefined;
  }, 60_000);

  it('starts its test clock again where it stopped, not back at the wall clock', async () => {
    const args = ['--data-dir', path.join(dataDir, 'clock'), '--test-clock'];
    const env = { RINGBILL_OPERATOR_KEY: 'rb_op_stop_test_operator_key_0000' };
    const api = async (method: string, url: string, body?: unknown) =>
      (await fetch(`${server!.url}${url}`, { method, headers: { authorization: `Bearer ${env.RINGBILL_OPERATOR_KEY}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json() as Promise<Record<string, string>>;
    server = await startServer(args, env);
    // Nothing stamped at that time: the advance alone is kept.
    const advanced = (await api('POST', '/v1/test-clock/advance', { seconds: 30 * 86_400 })).now!;
    server.process.kill('SIGTERM');
    expect(await waitForExit(server.process)).toBe(0);
    server = await startServer(args, env);
    expect(new Date((await api('GET', '/v1/test-clock')).now!).getTime()).toBeGreaterThanOrEqual(new Date(advanced).getTime());
    server.process.kill('SIGTERM');
    await waitForExit(server.process);
    server = undefined;
  }, 120_000);
});
