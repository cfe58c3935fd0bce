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

  it('answers every request a client sent before shutting its write side, even behind backpressure (half-open)', async () => {
    await t.broker.createNamespace('half');
    await t.broker.createTopic('half', 'big', 1);
    const N = 400;
    const payload = Buffer.from(JSON.stringify('h'.repeat(16 * 1024)));
    for (let i = 0; i < N; i++) await t.broker.publish('half', 'big', payload);
    const body = Buffer.from(JSON.stringify({ action: 'consume', data: { namespace: 'half', topic: 'big', queue_id: 0, auto_ack: true } }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length + 1, 0);
    body.copy(frame, 5);
    const socket = connect({ host: '127.0.0.1', port: t.front.port, ca: t.pki.ca });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    // Not reading: about 6.5 MB of replies are owed when the end of the requests arrives.
    socket.pause();
    socket.end(Buffer.concat(Array.from({ length: N }, () => frame)));
    await new Promise((r) => setTimeout(r, 300));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.resume();
    });
    const all = Buffer.concat(chunks);
    let replies = 0;
    for (let at = 0; at < all.length; replies++) {
      const length = all.readUInt32BE(at);
      const reply = JSON.parse(all.subarray(at + 5, at + 4 + length).toString('utf8')) as { status: string; data: unknown[] };
      expect(reply.status).toBe('ok');
      expect(reply.data).toHaveLength(1);
      at += 4 + length;
    }
    expect(replies).toBe(N);
    expect(t.broker.stats().pending).toBe(0);
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
