/**
 * The gRPC front grants every connection, and every stream on it, a 1 MiB
 * HTTP/2 flow-control window (docs/PROTOCOL.md, "gRPC"), where HTTP/2's
 * default of 64 KiB held streams of publishes back. grpc-js has no option
 * for it on a server (src/server/grpc/index.ts sets it on the sessions of
 * grpc-js's private HTTP/2 servers), so this reads what a client is
 * granted, as any HTTP/2 client sees it: an upgrade of grpc-js that
 * changes those internals fails here. The typed client grants the broker
 * the same for what it receives (src/client/grpc/transport.ts).
 */
import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { FLOW_CONTROL_WINDOW } from '../../src/server/grpc/index.js';
import { type Fixture, startFixture, waitFor } from './harness.js';

let f: Fixture | undefined;
let session: http2.ClientHttp2Session | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  session?.destroy();
  session = undefined;
  await f?.stop();
  f = undefined;
});

describe('gRPC flow control', () => {
  it('grants each stream and the connection a 1 MiB window', async () => {
    expect(FLOW_CONTROL_WINDOW).toBe(1 << 20);
    f = await startFixture();
    session = http2.connect(`http://${f.address}`);
    const s = session;
    await new Promise<void>((resolve, reject) => {
      s.once('remoteSettings', () => resolve());
      s.once('error', reject);
    });
    // Both follow grpc-js's first SETTINGS: a second SETTINGS and a WINDOW_UPDATE.
    await waitFor(() => s.remoteSettings.initialWindowSize === FLOW_CONTROL_WINDOW && s.state.remoteWindowSize === FLOW_CONTROL_WINDOW, 'the window settings', 2000);
    expect(s.remoteSettings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW);
    expect(s.state.remoteWindowSize).toBe(FLOW_CONTROL_WINDOW);
  });

  it('the typed client grants the broker the same for what it receives (Subscribe streams)', async () => {
    // A bare HTTP/2 server, to read what the client's session grants it.
    const server = http2.createServer();
    const granted = new Promise<http2.ServerHttp2Session>((resolve) => server.once('session', resolve));
    server.on('stream', (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = new GrpcClient({ host: '127.0.0.1', port: (server.address() as { port: number }).port, timeoutMs: 2000 });
    cleanups.push(() => client.close());
    await client.topicStats('n', 't').catch(() => {}); // opens the connection; the bare server answers UNIMPLEMENTED
    const s = await granted;
    await waitFor(() => s.remoteSettings.initialWindowSize === FLOW_CONTROL_WINDOW && s.state.remoteWindowSize === FLOW_CONTROL_WINDOW, 'the client window settings', 2000);
    expect(s.remoteSettings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW);
    expect(s.state.remoteWindowSize).toBe(FLOW_CONTROL_WINDOW);
  });
});
