/** TLS on the HTTP front (HTTPS through @hono/node-server), with the HTTP client: SSE over TLS included. */
import { describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/http/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { type FrontUnderTest, tlsSuite, tlsFrontFixture } from './suite.js';

const start: FrontUnderTest['start'] = (broker, tls, logger) =>
  startHttpServer(broker, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024, sseHeartbeatMs: 0, sseMaxInflight: 100, logger, tls });

for (const transport of ['http', 'raw'] as const) {
  tlsSuite({
    name: `HTTP (${transport} transport)`,
    start,
    // A plain http:// base URL: the tls option alone switches the client to https.
    client: async (port, tls) => new HttpClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 10_000, transport, tls }),
    logsHandshakes: true,
  });
}

describe('HTTPS front details', () => {
  const t = tlsFrontFixture(start);

  it('serves /health over https to a client that trusts the CA', async () => {
    const client = new HttpClient({ baseUrl: `https://localhost:${t.front.port}`, tls: { ca: t.pki.ca } });
    expect(await client.health()).toEqual({ status: 'ok' });
    await client.close();
  });

  it('the fetch transport refuses a CA or client certificate it could not use, naming the transports that can', () => {
    expect(() => new HttpClient({ baseUrl: `https://127.0.0.1:${t.front.port}`, transport: 'fetch', tls: { ca: t.pki.ca } })).toThrow(
      /fetch transport cannot use a CA or client certificate.*http or raw transport/,
    );
  });
});
