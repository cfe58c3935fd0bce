// The floor servers of the benchmarks (bench/floor-server.ts) answer what
// the typed TCP client expects, so that a floor figure is a floor of the
// same exchange as the broker's: a change of the wire that the floors miss
// would make the benchmark fail, or measure something else, unseen.
import { afterEach, describe, expect, it } from 'vitest';
import { type FloorProcess, startFloor } from '../../bench/floors.js';
import { TcpClient } from '../../src/client/tcp/index.js';
import type { ClientMessage } from '../../src/client/types.js';

let floor: FloorProcess | undefined;
const clients: TcpClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await floor?.stop();
  floor = undefined;
});

async function client(port: number): Promise<TcpClient> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf' });
  clients.push(c);
  return c;
}

describe('floor servers', () => {
  it('tcp: answers each publish with a publish reply', async () => {
    floor = await startFloor('tcp');
    const c = await client(floor.port);
    const replies = await Promise.all(Array.from({ length: 3 }, () => c.publish('bench', 'floor', new Uint8Array(1024))));
    for (const r of replies) expect(r).toMatchObject({ queueId: 0, messageId: expect.any(String) });
  });

  it('push: relays each publish as one push to the subscriber, then answers it', async () => {
    floor = await startFloor('push');
    const publisher = await client(floor.port);
    const got: ClientMessage[] = [];
    let arrived: () => void = () => {};
    const sub = await (await client(floor.port)).subscribe('bench', 'push', 0, { autoAck: true, onMessage: (m) => (got.push(m), arrived()) });
    for (let i = 1; i <= 3; i++) {
      const delivered = new Promise<void>((r) => (arrived = r));
      const reply = await publisher.publish('bench', 'push', new Uint8Array(1024));
      await delivered;
      expect(reply.queueId).toBe(0);
      expect(got).toHaveLength(i);
    }
    expect(got[0]!.payload).toHaveLength(1024);
    await sub.close();
  });

  it('push: refuses a frame that is neither subscribe nor publish by closing the connection', async () => {
    floor = await startFloor('push');
    const c = await client(floor.port);
    await expect(c.createNamespace('bench')).rejects.toThrow();
  });
});
