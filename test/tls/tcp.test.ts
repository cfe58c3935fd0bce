/** TLS on the TCP framing front (node:tls), with the TCP client in both encodings. */
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { TcpClient } from '../../src/client/tcp/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import { type FrontUnderTest, tlsFrontFixture, tlsSuite } from './suite.js';

const startTcp: FrontUnderTest['start'] = (broker, tls, logger) => startTcpServer(broker, { host: '127.0.0.1', port: 0, maxFrameBytes: 1024 * 1024, logger, tls });

for (const encoding of ['protobuf', 'json'] as const) {
  tlsSuite({
    name: `TCP (${encoding})`,
    start: startTcp,
    client: (port, tls) => TcpClient.connect({ host: '127.0.0.1', port, encoding, timeoutMs: 10_000, tls }),
    logsHandshakes: true,
  });
}

describe('TCP over TLS keeps the framing promises', () => {
  const t = tlsFrontFixture(startTcp);

  it('answers pipelined requests of a client that shut its write side after sending them (half-open)', async () => {
    const body = Buffer.from(JSON.stringify({ action: 'list_namespaces', data: {} }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length + 1, 0);
    frame[4] = 0;
    body.copy(frame, 5);
    await t.broker.createNamespace('a');
    await t.broker.createNamespace('b');
    const socket = connect({ host: '127.0.0.1', port: t.front.port, ca: t.pki.ca, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => {
        socket.write(Buffer.concat([frame, frame]));
        socket.end();
      });
      socket.once('error', reject);
      socket.once('close', () => resolve());
    });
    const all = Buffer.concat(chunks);
    const replies: unknown[] = [];
    for (let at = 0; at < all.length; ) {
      const length = all.readUInt32BE(at);
      replies.push(JSON.parse(all.subarray(at + 5, at + 4 + length).toString('utf8')));
      at += 4 + length;
    }
    expect(replies).toEqual([
      { status: 'ok', data: ['a', 'b'] },
      { status: 'ok', data: ['a', 'b'] },
    ]);
  });

  it('closes promptly with a client that hung up mid-handshake', async () => {
    // A client that rejects the server's certificate leaves before the handshake ends.
    const socket = connect({ host: '127.0.0.1', port: t.front.port });
    await new Promise<void>((resolve) => {
      socket.once('error', () => undefined);
      socket.once('close', () => resolve());
    });
    // close() awaits every socket: one stuck half-open would hold it for good (the hook's time limit fails the test).
    await t.front.close();
  });
});
