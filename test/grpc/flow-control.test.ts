/**
 * The gRPC front grants every connection, and every stream on it, a 1 MiB
 * HTTP/2 flow-control window (docs/PROTOCOL.md, "gRPC"), where HTTP/2's
 * default of 64 KiB held streams of publishes back. grpc-js has no option
 * for it on a server (src/server/grpc/index.ts sets it on the sessions of
 * grpc-js's private HTTP/2 servers), so this reads what a client is
 * granted, as any HTTP/2 client sees it: an upgrade of grpc-js that
 * changes those internals fails here.
 */
import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { FLOW_CONTROL_WINDOW } from '../../src/server/grpc/index.js';
import { type Fixture, startFixture, waitFor } from './harness.js';

let f: Fixture | undefined;
let session: http2.ClientHttp2Session | undefined;
afterEach(async () => {
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
});
