/**
 * mqlite-cli names a broker by one URL, as the client's connect() does
 * (docs/CLIENT.md, "Connecting"): `--url`, else $MQLITE_URL, instead of
 * --proto, --host and --port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, runCli, startBroker } from './harness.js';

let b: Running;
beforeAll(async () => {
  b = await startBroker();
  await b.broker.createNamespace('u');
});
afterAll(async () => {
  await b.stop();
});

describe('mqlite-cli --url and MQLITE_URL', () => {
  it.each([
    ['tcp', () => `tcp://127.0.0.1:${b.ports.tcp}`],
    ['tcp json', () => `tcp://127.0.0.1:${b.ports.tcp}?encoding=json`],
    ['http', () => `http://127.0.0.1:${b.ports.http}`],
    ['grpc', () => `grpc://127.0.0.1:${b.ports.grpc}`],
  ])('reaches the broker over %s with --url, and with MQLITE_URL', async (_name, url) => {
    const flag = await runCli(['--url', url(), '--json', 'ns', 'list'], { env: { MQLITE_URL: '' } });
    expect(flag.stderr).toBe('');
    expect(flag.json()).toContain('u');
    const env = await runCli(['--json', 'ns', 'list'], { env: { MQLITE_URL: url() } });
    expect(env.stderr).toBe('');
    expect(env.json()).toContain('u');
  });

  it('--proto, --host or --port on the command line win over MQLITE_URL', async () => {
    const r = await runCli(['--proto', 'http', '--port', String(b.ports.http), '--json', 'ns', 'list'], { env: { MQLITE_URL: 'grpc://127.0.0.1:1' } });
    expect(r.stderr).toBe('');
    expect(r.json()).toContain('u');
  });

  it('refuses --url with --proto/--port, and a URL it cannot read, with exit 2 and the reason', async () => {
    const both = await runCli(['--url', `tcp://127.0.0.1:${b.ports.tcp}`, '--port', '1', 'ns', 'list']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--url names the broker: leave out --port');
    const bad = await runCli(['ns', 'list'], { env: { MQLITE_URL: 'amqp://h' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("MQLITE_URL: broker URL 'amqp://h': unknown scheme 'amqp:'");
  });
});
