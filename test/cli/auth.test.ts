/**
 * mqlite-cli against a broker with API keys (docs/PROTOCOL.md, "Authentication"): the global
 * `--api-key`, or $MQLITE_API_KEY, is sent on every protocol; without it the
 * command fails with the broker's UNAUTHENTICATED and exit status 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, READER_KEY, SHOP_KEY, type Fixture, startFixture } from '../auth/fixture.js';
import { PROTOS, type Proto, runCli } from './harness.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f.stop();
});

const target = (proto: Proto): string[] => [
  '--proto',
  proto,
  '--port',
  String(proto === 'http' ? f.http.port : proto === 'grpc' ? f.grpc.port : f.tcp.port),
  '--http-port',
  String(f.http.port),
];

describe('mqlite-cli --api-key', () => {
  for (const proto of PROTOS) {
    it(`${proto}: --api-key and MQLITE_API_KEY authenticate; no key is UNAUTHENTICATED (exit 1)`, async () => {
      const withFlag = await runCli([...target(proto), '--json', '--api-key', SHOP_KEY, 'ns', 'list'], { env: { MQLITE_API_KEY: '' } });
      expect(withFlag.code).toBe(0);
      expect(JSON.stringify(withFlag.json())).toContain('shop');
      expect(JSON.stringify(withFlag.json())).not.toContain('billing');

      const fromEnv = await runCli([...target(proto), '--json', 'ns', 'list'], { env: { MQLITE_API_KEY: ADMIN_KEY } });
      expect(fromEnv.code).toBe(0);
      expect(JSON.stringify(fromEnv.json())).toContain('billing');

      const none = await runCli([...target(proto), '--json', 'ns', 'list'], { env: { MQLITE_API_KEY: '' } });
      expect(none.code).toBe(1);
      expect(JSON.parse(none.stderr).error.code).toBe('UNAUTHENTICATED');

      const denied = await runCli([...target(proto), '--json', '--api-key', READER_KEY, 'pub', 'shop', 'orders', 'x'], { env: { MQLITE_API_KEY: '' } });
      expect(denied.code).toBe(1);
      expect(JSON.parse(denied.stderr).error.code).toBe('PERMISSION_DENIED');
    });
  }

  it('aof rewrite sends the key to the HTTP admin route', async () => {
    const r = await runCli([...target('tcp'), '--json', '--api-key', READER_KEY, 'aof', 'rewrite'], { env: { MQLITE_API_KEY: '' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});
