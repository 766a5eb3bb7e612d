import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { loggedUrl } from '../../src/http/transport.ts';
import { OPERATOR_KEY, startTestApp, type TestApp } from '../helpers/app.ts';

describe('the HTTP app', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers /healthz without a key', async () => {
    const response = await t.call({ method: 'GET', url: '/healthz', key: null });
    expect([response.statusCode, response.json()]).toEqual([200, { status: 'ok' }]);
  });

  it('publishes an OpenAPI 3.1 document with every route and a browsable reference', async () => {
    const document = (await t.call({ method: 'GET', url: '/openapi.json', key: null })).json();
    expect(document.openapi).toBe('3.1.0');
    for (const route of ['/v1/transfers', '/v1/transfers/{id}/post', '/v1/transfers/{id}/void', '/v1/accounts/{id}', '/v1/organizations/{id}/ledger', '/v1/organizations', '/v1/organizations/{id}/api-keys', '/v1/test-clock/advance']) {
      expect(document.paths, route).toHaveProperty([route]);
    }
    expect(JSON.stringify(document.paths['/v1/transfers'].post)).toContain('Idempotency-Key'.toLowerCase());
    // CSV goes in and out as text/csv, not as a JSON string.
    expect(Object.keys(document.paths['/v1/cdr-files'].post.requestBody.content)).toEqual(['text/csv']);
    expect(Object.keys(document.paths['/v1/rate-decks'].post.requestBody.content)).toEqual(['text/csv']);
    expect(Object.keys(document.paths['/v1/rate-decks/{id}/export'].get.responses['200'].content)).toEqual(['text/csv']);
    expect(Object.keys(document.paths['/v1/organizations/{id}/usage'].get.responses['200'].content)).toEqual(['application/json', 'text/csv']);
    // Every route with a body may be too large or of another media type; every step of a call
    // or an event may meet a full ledger queue.
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (method !== 'get' && method !== 'delete') expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
        if (path.startsWith('/v1/charging/') && method === 'post') expect(Object.keys(operation.responses), `${method} ${path}`).toContain('503');
      }
    }
    const docs = await t.call({ method: 'GET', url: '/docs/', key: null });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it('answers unknown routes, bad JSON and other media types in the error format', async () => {
    const unknown = await t.call({ method: 'GET', url: '/v1/nothing-here' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'not_found']);
    const badJson = await t.call({ method: 'POST', url: '/v1/organizations', payload: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect([badJson.statusCode, badJson.json().error.code]).toEqual([400, 'invalid_input']);
    const text = await t.call({ method: 'POST', url: '/v1/organizations', payload: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect([text.statusCode, text.json().error.code]).toEqual([415, 'unsupported_media_type']);
    // Files come as CSV only, not as a JSON string holding one.
    for (const url of ['/v1/rate-decks?name=json-deck', '/v1/cdr-files?format=ringbill']) {
      const json = await t.call({ method: 'POST', url, payload: JSON.stringify('prefix,rate\n65,0.01'), headers: { 'content-type': 'application/json' } });
      expect([json.statusCode, json.json().error.code, json.json().error.message], url).toEqual([415, 'unsupported_media_type', 'the body must be text/csv, not application/json']);
    }
    expect((await t.call({ method: 'GET', url: '/v1/rate-decks' })).json().data.map((deck: { name: string }) => deck.name)).not.toContain('json-deck');
    // Nor does a JSON route read a CSV body (it used to read up to 512 MiB of one, then refuse it).
    const csv = await t.call({ method: 'POST', url: '/v1/organizations', payload: 'name,currency\nX,SGD', headers: { 'content-type': 'text/csv' } });
    expect([csv.statusCode, csv.json().error.code, csv.json().error.message]).toEqual([415, 'unsupported_media_type', 'the body must be application/json, not text/csv']);
    const quote = await t.call({ method: 'POST', url: '/v1/rating/quote', payload: 'x', headers: { 'content-type': 'text/csv' } });
    expect([quote.statusCode, quote.json().error.code]).toEqual([415, 'unsupported_media_type']);
  });

  it('answers a request Node’s HTTP parser refuses (headers past 16 KiB) in the error format', async () => {
    const own = await startTestApp();
    try {
      await own.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = own.app.server.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toEqual({ error: { code: 'headers_too_large', message: expect.stringContaining('16 KiB') } });
    } finally {
      await own.close();
    }
  });

  it('logs no key sent in a query string', async () => {
    const lines: string[] = [];
    const logged = await buildApp({ services: t.services, logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } } });
    try {
      await logged.inject({ method: 'GET', url: `/v1/rate-decks?access_token=${OPERATOR_KEY}&apiKey=${OPERATOR_KEY}` });
      expect(lines.join('')).toContain('/v1/rate-decks?access_token=REDACTED&apiKey=REDACTED');
      expect(lines.join('')).not.toContain(OPERATOR_KEY);
    } finally {
      await logged.close();
    }
    expect(loggedUrl('/v1/organizations/x/usage?from=2026-11-01T00%3A00%3A00Z&limit=5')).toBe('/v1/organizations/x/usage?from=2026-11-01T00%3A00%3A00Z&limit=5');
  });

  it('names the values a field may take when it takes another', async () => {
    const format = await t.call({ method: 'POST', url: '/v1/cdr-files?format=csv', payload: 'x', headers: { 'content-type': 'text/csv' } });
    expect([format.statusCode, format.json().error.message]).toEqual([400, 'querystring/format must be one of "asterisk", "freeswitch", "ringbill"']);
    const service = await t.call({ method: 'POST', url: '/v1/charging/sessions', payload: { organizationId: '00000000-0000-4000-8000-000000000000', service: 'sms', destination: '65', callId: 'c' } });
    expect([service.statusCode, service.json().error.message]).toEqual([400, 'body/service must be "voice"']);
    const nul = await t.call({ method: 'POST', url: '/v1/charging/sessions', payload: { organizationId: '00000000-0000-4000-8000-000000000000', destination: '65\u00009123', callId: 'c' } });
    expect([nul.statusCode, nul.json().error.message]).toEqual([400, 'body/destination must not contain the NUL character (\\u0000)']);
  });

  it('refuses a query parameter on a route that takes none, naming it', async () => {
    const listed = await t.call({ method: 'GET', url: '/v1/rate-decks?limit=5' });
    expect([listed.statusCode, listed.json().error.code, listed.json().error.message]).toEqual([400, 'invalid_input', 'querystring has an unknown field "limit"']);
    expect((await t.call({ method: 'GET', url: '/v1/rate-decks' })).statusCode).toBe(200);
  });

  it('requires a valid key on every /v1 route', async () => {
    expect((await t.call({ method: 'GET', url: '/v1/accounts', key: null })).json().error.code).toBe('unauthenticated');
    expect((await t.call({ method: 'GET', url: '/v1/accounts', key: null, headers: { authorization: 'Basic abc' } })).statusCode).toBe(401);
    // The router decodes these to /v1 routes: the key check must not miss them.
    for (const url of ['/%761/accounts', '/v%31/organizations', '/%76%31/transfers/txf_nope']) {
      const response = await t.call({ method: 'GET', url, key: null });
      expect([response.statusCode, response.json().error.code], url).toEqual([401, 'unauthenticated']);
    }
  });

  it('moves the test clock forward only, by seconds or to a time', async () => {
    const start = (await t.call({ method: 'GET', url: '/v1/test-clock' })).json().now as string;
    const to = new Date(new Date(start).getTime() + 3_600_000).toISOString();
    const advanced = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { to } });
    expect(advanced.json().now).toBe(to);
    const back = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { to: start } });
    expect([back.statusCode, back.json().error.code]).toEqual([400, 'invalid_input']);
    const neither = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: {} });
    expect(neither.statusCode).toBe(400);
    const both = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { to, seconds: 1 } });
    expect([both.statusCode, both.json().error.message]).toEqual([400, 'body takes either "to" or "seconds"']);
    // A bad value is named as the field it is in.
    const negative = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: -5 } });
    expect([negative.statusCode, negative.json().error.message]).toEqual([400, expect.stringContaining('seconds')]);
    expect(negative.json().error.message).not.toContain('"to"');
  });

  it('runs test-clock advances sent together one after the other, each from where the last left it, and stops a day before year 10000', async () => {
    const own = await startTestApp({ start: new Date('2026-11-01T00:00:00Z') });
    try {
      const advance = (payload: Record<string, unknown>) => own.call({ method: 'POST', url: '/v1/test-clock/advance', payload });
      const together = await Promise.all([advance({ seconds: 3600 }), advance({ seconds: 60 })]);
      expect(together.map((response) => response.statusCode)).toEqual([200, 200]);
      expect((await own.call({ method: 'GET', url: '/v1/test-clock' })).json().now).toBe('2026-11-01T01:01:00.000Z');
      // Calls are stamped with the clock, and their bill periods (a month in any zone) stored.
      expect((await advance({ to: '9999-12-30T00:00:00Z' })).statusCode).toBe(200);
      const past = await advance({ seconds: 86_400 });
      expect([past.statusCode, past.json().error.code, past.json().error.message]).toEqual([400, 'invalid_input', 'the test clock moves from 0001-01-02 to 9999-12-30 in UTC; 9999-12-31T00:00:00.000Z is past it']);
      expect((await own.call({ method: 'GET', url: '/v1/test-clock' })).json().now).toBe('9999-12-30T00:00:00.000Z');
    } finally {
      await own.close();
    }
  });

  it('keeps the test clock for the operator', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Org', currency: 'USD' } })).json();
    const key = (await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/api-keys` })).json().key;
    const response = await t.call({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 }, key });
    expect([response.statusCode, response.json().error.code]).toEqual([403, 'forbidden']);
  });

  it('has no test clock unless the server was started with one', async () => {
    const app = await buildApp({ services: t.services, testClock: false });
    const response = await app.inject({ method: 'GET', url: '/v1/test-clock', headers: { authorization: 'Bearer rb_op_test_operator_key_0123456789' } });
    expect(response.statusCode).toBe(404);
    const advance = await app.inject({ method: 'POST', url: '/v1/test-clock/advance', payload: { seconds: 1 }, headers: { authorization: 'Bearer rb_op_test_operator_key_0123456789' } });
    expect(advance.statusCode).toBe(404);
    await app.close();
  });

  it('validates organizations as they are created', async () => {
    for (const payload of [{ name: 'X', currency: 'XYZ' }, { name: 'X', currency: 'sgd' }, { name: '', currency: 'SGD' }, { name: '   ', currency: 'SGD' }, { currency: 'SGD' }]) {
      const response = await t.call({ method: 'POST', url: '/v1/organizations', payload });
      expect([response.statusCode, response.json().error.code], JSON.stringify(payload)).toEqual([400, 'invalid_input']);
    }
    expect((await t.call({ method: 'GET', url: '/v1/organizations/00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
  });
});
