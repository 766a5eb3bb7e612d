import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ENVIRONMENT_KEY_ID, EnvironmentKeyTaken, seedEnvironmentOperatorKey } from '../../src/auth/api-keys.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { OPERATOR_KEY, startTestApp, type TestApp } from '../helpers/app.ts';

describe(`API keys over HTTP on ${testDatabaseKind}`, () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('revokes a key: refused at once, revoking again answers it as it was, audited once', async () => {
    const org = (await t.call({ method: 'POST', url: '/v1/organizations', payload: { name: 'Keyed Ltd', currency: 'SGD' } })).json();
    const created = (await t.call({ method: 'POST', url: `/v1/organizations/${org.id}/api-keys`, payload: { name: 'portal' } })).json();
    expect((await t.call({ method: 'GET', url: `/v1/organizations/${org.id}`, key: created.key })).statusCode).toBe(200);
    // A customer key may neither list nor revoke keys, its own included.
    expect((await t.call({ method: 'GET', url: '/v1/api-keys', key: created.key })).statusCode).toBe(403);
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}`, key: created.key })).statusCode).toBe(403);

    const revoked = await t.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}` });
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(revoked.json()).toMatchObject({ id: created.id, role: 'organization', organizationId: org.id, name: 'portal', revokedAt: expect.any(String) });
    const refused = await t.call({ method: 'GET', url: `/v1/organizations/${org.id}`, key: created.key });
    expect([refused.statusCode, refused.json().error.code]).toEqual([401, 'unauthenticated']);
    t.clock.advanceSeconds(60);
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}` })).json().revokedAt).toBe(revoked.json().revokedAt);

    const listed = (await t.call({ method: 'GET', url: `/v1/api-keys?organizationId=${org.id}` })).json().data;
    expect(listed).toEqual([revoked.json()]);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const audit = (await t.call({ method: 'GET', url: `/v1/audit-log?organizationId=${org.id}` })).json().data;
    expect(audit.filter((entry: { action: string }) => entry.action === 'api_key.revoked')).toHaveLength(1);
    const unknown = await t.call({ method: 'DELETE', url: '/v1/api-keys/key_nope' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'not_found']);
  });

  it('lists the environment’s operator key without any of its characters', async () => {
    const listed = (await t.call({ method: 'GET', url: '/v1/api-keys' })).json().data;
    const environment = listed.find((key: { id: string }) => key.id === ENVIRONMENT_KEY_ID);
    expect(environment.prefix).toMatch(/^env:[0-9a-f]{8}$/);
    expect(OPERATOR_KEY.startsWith(environment.prefix)).toBe(false);
  });

  it('keeps the last working operator key', async () => {
    const spare = await createApiKey(t.database.db, t.clock, { role: 'operator' }, 'spare');
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${spare.id}` })).statusCode).toBe(200);
    const last = await t.call({ method: 'DELETE', url: `/v1/api-keys/${ENVIRONMENT_KEY_ID}` });
    expect([last.statusCode, last.json().error.code]).toEqual([409, 'last_operator_key']);
    expect((await t.call({ method: 'GET', url: '/v1/api-keys' })).statusCode).toBe(200);
  });

  it('keeps the environment’s operator key revoked at the next start while the environment still holds it; a new secret is a new key', async () => {
    const spare = await createApiKey(t.database.db, t.clock, { role: 'operator' }, 'spare');
    const as = (key: string) => t.call({ method: 'GET', url: '/v1/api-keys', key });
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${ENVIRONMENT_KEY_ID}`, key: spare.secret })).statusCode).toBe(200);
    // What a restart does with RINGBILL_OPERATOR_KEY unchanged.
    expect(await seedEnvironmentOperatorKey(t.database.db, t.clock, OPERATOR_KEY)).toBe(false);
    expect((await as(OPERATOR_KEY)).statusCode).toBe(401);
    const renewed = 'rb_op_a_new_environment_key_0001';
    expect(await seedEnvironmentOperatorKey(t.database.db, t.clock, renewed)).toBe(true);
    expect([(await as(renewed)).statusCode, (await as(OPERATOR_KEY)).statusCode]).toEqual([200, 401]);
    // Nor when the variable goes back to it after another (a service file rolled back).
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${ENVIRONMENT_KEY_ID}`, key: spare.secret })).statusCode).toBe(200);
    const third = 'rb_op_a_third_environment_key_01';
    expect(await seedEnvironmentOperatorKey(t.database.db, t.clock, third)).toBe(true);
    expect(await seedEnvironmentOperatorKey(t.database.db, t.clock, OPERATOR_KEY)).toBe(false);
    expect(await seedEnvironmentOperatorKey(t.database.db, t.clock, renewed)).toBe(false);
    expect([(await as(OPERATOR_KEY)).statusCode, (await as(renewed)).statusCode, (await as(third)).statusCode]).toEqual([401, 401, 200]);
    // Another key's secret cannot be the environment's too: one secret, two roles.
    await expect(seedEnvironmentOperatorKey(t.database.db, t.clock, spare.secret)).rejects.toThrow(new EnvironmentKeyTaken(spare.id));
    expect((await as(third)).statusCode).toBe(200);
  });
});
