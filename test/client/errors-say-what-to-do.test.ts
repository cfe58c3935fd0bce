/**
 * Errors that say what to do, from mqlite-cli and from the typed client
 * alike (src/client/hints.ts): a port of another front, no broker at the
 * address, a missing or refused API key, a request above the broker's
 * limit. Real fronts on real ports; the CLI as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.js';
import { Broker } from '../../src/broker/broker.js';
import { connect } from '../../src/client/index.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import { runCli, startBroker } from '../cli/harness.js';
import { silent } from '../tcp/helpers.js';
import { freePort } from './server-process.js';

let open: Awaited<ReturnType<typeof startBroker>>;
let keyed: { broker: Broker; fronts: FrontHandle[]; tcp: number; http: number; grpc: number };
const KEY = 'a-key-long-enough-0123456789';

beforeAll(async () => {
  open = await startBroker();
  const broker = new Broker({ logger: silent });
  const apiKeys = new ApiKeys([{ key: KEY }]);
  const host = '127.0.0.1';
  const tcp = await startTcpServer(broker, { host, port: 0, maxFrameBytes: 1 << 16, logger: silent, apiKeys });
  const http = await startHttpServer(broker, { host, port: 0, maxBodyBytes: 1 << 16, sseHeartbeatMs: 15_000, sseMaxInflight: 100, logger: silent, apiKeys });
  const grpc = await startGrpcServer(broker, { host, port: 0, maxMessageBytes: 1 << 16, logger: silent, apiKeys });
  keyed = { broker, fronts: [tcp, http, grpc], tcp: tcp.port, http: http.port, grpc: grpc.port };
});
afterAll(async () => {
  await open.stop();
  await Promise.allSettled(keyed.fronts.map((f) => f.close()));
  await keyed.broker.close();
});

const cli = (proto: string, port: number, ...rest: string[]) => runCli(['--proto', proto, '--port', String(port), '--timeout', '5s', ...rest, 'ns', 'list']);

describe('a port of another front', () => {
  it('tcp on the HTTP port says it answered in HTTP and to use --proto http', async () => {
    for (const proto of ['tcp', 'tcp-json']) {
      const r = await cli(proto, open.ports.http);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the server at 127.0.0.1:${open.ports.http} answered in HTTP/1.1`);
      expect(r.stderr).toContain('use --proto http');
      expect(r.stderr).not.toContain('bad reply frame');
    }
  });

  it('tcp on the gRPC port says it answered in HTTP/2 and to use --proto grpc', async () => {
    const r = await cli('tcp', open.ports.grpc);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('answered in HTTP/2');
    expect(r.stderr).toContain('use --proto grpc');
  });

  it('http on the TCP or gRPC port says the port does not answer in HTTP/1.1', async () => {
    for (const port of [open.ports.tcp, open.ports.grpc]) {
      const r = await cli('http', port);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the port does not answer in HTTP/1.1');
      expect(r.stderr).toContain('use --proto tcp / grpc');
    }
  });

  it('grpc on the TCP or HTTP port says the port does not answer in HTTP/2', async () => {
    for (const port of [open.ports.tcp, open.ports.http]) {
      const r = await cli('grpc', port);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the port does not answer in HTTP/2 (gRPC)');
    }
  });
});

describe('no broker at the address', () => {
  it('says to start one or point --url / MQLITE_URL at it, on every protocol and from the client', async () => {
    const port = await freePort();
    for (const proto of ['tcp', 'http', 'grpc']) {
      const r = await cli(proto, port);
      expect(r.code, proto).toBe(1);
      expect(r.stderr, proto).toContain('no broker listens there: start one (`mqlite`');
      expect(r.stderr, proto).toContain('MQLITE_URL');
    }
    await expect(connect(`tcp://127.0.0.1:${port}`, { reconnect: false })).rejects.toThrow(/no broker listens there/);
  });
});

describe('API keys', () => {
  it('a missing key names --api-key, MQLITE_API_KEY and the client option, on every protocol', async () => {
    for (const [proto, port] of [
      ['tcp', keyed.tcp],
      ['tcp-json', keyed.tcp],
      ['http', keyed.http],
      ['grpc', keyed.grpc],
    ] as const) {
      const r = await cli(proto, port);
      expect(r.code, proto).toBe(1);
      expect(r.stderr, proto).toContain('UNAUTHENTICATED: the broker requires an API key: give the key with mqlite-cli --api-key <key> or MQLITE_API_KEY, or connect(url, { apiKey }) in code');
      expect(r.stderr, proto).not.toContain('first frame');
    }
  });

  it('a wrong key says the broker refused it; the right one works', async () => {
    const wrong = await cli('tcp', keyed.tcp, '--api-key', 'not-the-key-0123456789');
    expect(wrong.stderr).toContain('the broker refused this API key');
    const right = await cli('tcp', keyed.tcp, '--api-key', KEY);
    expect(right.code, right.stderr).toBe(0);
  });
});

describe('a request above the broker limit', () => {
  it('names limits.max_frame over TCP and gRPC', async () => {
    const big = 'x'.repeat(70_000);
    const tcp = await runCli(['--proto', 'tcp', '--port', String(keyed.tcp), '--api-key', KEY, 'pub', 'ns', 't', big]);
    expect(tcp.stderr).toContain('(limits.max_frame)');
    const grpc = await runCli(['--proto', 'grpc', '--port', String(keyed.grpc), '--api-key', KEY, 'pub', 'ns', 't', big]);
    expect(grpc.stderr).toContain('RESOURCE_EXHAUSTED');
    expect(grpc.stderr).toContain('limits.max_frame');
  });
});
