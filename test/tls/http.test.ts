/** TLS on the HTTP front (HTTPS through @hono/node-server), with the HTTP client: SSE over TLS included. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { HttpClient } from '../../src/client/http/index.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { loadServerTls } from '../../src/server/tls.js';
import { makePki, type Pki } from './certs.js';
import { capture, tlsSuite } from './suite.js';

const start = (broker: Broker, tls: ReturnType<typeof loadServerTls>, logger = capture().logger): Promise<FrontHandle> =>
  startHttpServer(broker, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024, sseHeartbeatMs: 0, sseMaxInflight: 100, logger, tls });

for (const transport of ['http', 'raw'] as const) {
  tlsSuite({
    name: `HTTP (${transport} transport)`,
    start: (broker, tls, logger) => start(broker, tls, logger),
    // A plain http:// base URL: the tls option alone switches the client to https.
    client: async (port, tls) => new HttpClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 10_000, transport, tls }),
    logsHandshakes: true,
  });
}

describe('HTTPS front details', () => {
  let pki: Pki;
  let broker: Broker;
  let front: FrontHandle;
  beforeAll(async () => {
    pki = makePki();
    broker = new Broker();
    front = await start(broker, loadServerTls({ cert: pki.paths.serverCert, key: pki.paths.serverKey }));
  });
  afterAll(async () => {
    await front?.close();
    await broker?.close();
    pki?.remove();
  });

  it('serves /health over https to a client that trusts the CA', async () => {
    const client = new HttpClient({ baseUrl: `https://localhost:${front.port}`, tls: { ca: pki.ca } });
    expect(await client.health()).toEqual({ status: 'ok' });
    await client.close();
  });

  it('the fetch transport refuses a CA or client certificate it could not use, naming the transports that can', () => {
    expect(() => new HttpClient({ baseUrl: `https://127.0.0.1:${front.port}`, transport: 'fetch', tls: { ca: pki.ca } })).toThrow(
      /fetch transport cannot use a CA or client certificate.*http or raw transport/,
    );
  });
});
