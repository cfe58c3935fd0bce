/**
 * Connection internals that no socket test can see in a few seconds: a
 * connection whose reply queue never empties (a pipeline kept full for
 * hours) must not keep every answered slot.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { Connection } from '../../src/server/tcp/connection.js';
import { jsonFrame, silent } from './helpers.js';

class FakeSocket extends EventEmitter {
  written = 0;
  remoteAddress = '127.0.0.1';
  setNoDelay(): void {}
  setKeepAlive(): void {}
  pause(): void {}
  resume(): void {}
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  write(b: Buffer): boolean {
    this.written += b.length;
    return true;
  }
}

describe('the reply queue of a connection that is never idle', () => {
  it('drops answered slots while later ones still wait', async () => {
    // publishes that resolve only when the test says so (a slow fsync)
    const pending: (() => void)[] = [];
    const broker = {
      publish: () => new Promise((resolve) => pending.push(() => resolve({ messageId: 'id', queueId: 0 }))),
      serving() {
        return this;
      },
    } as unknown as Broker;
    const socket = new FakeSocket();
    const conn = new Connection(broker, socket as unknown as Socket, 1 << 20, silent);
    const frame = jsonFrame({ action: 'publish', data: { namespace: 'n', topic: 't', payload: 1 } });
    const queueLength = (): number => (conn as unknown as { queue: unknown[] }).queue.length;

    let answered = 0;
    for (let round = 0; round < 20; round++) {
      socket.emit('data', Buffer.concat(Array.from({ length: 1000 }, () => frame)));
      // answer all but the newest 500: the queue is never empty
      const n = pending.length - 500;
      for (const resolve of pending.splice(0, n)) resolve();
      answered += n;
      await new Promise((r) => setImmediate(r));
    }
    expect(answered).toBe(19_500);
    expect(queueLength()).toBeLessThan(4000); // not 20,000
    expect(socket.written).toBeGreaterThan(0);
  });
});
