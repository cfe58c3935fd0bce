/**
 * NATS JetStream through the official `nats` client. A queue is a stream
 * with work-queue retention on file storage (one replica: one server) and a
 * durable pull consumer with explicit acks.
 *
 * - publish: `js.publish`, resolved by the stream's PubAck.
 * - consume with acks: `fetch` of a batch, `ack()` of each message (acks are
 *   fire-and-forget in NATS) and `ackAck()` of the batch's last one, so that
 *   the batch counts only once the server confirmed its acks.
 * - push: `consume()` on the same pull consumer (the client keeps pull
 *   requests open, the server sends each message as it is stored), acked
 *   after the callback.
 *
 * Durability: nats-server 2.9 has no per-write or per-second fsync setting
 * (`sync_interval` came in 2.10). Its file store hands each write to the OS
 * and forces a sync on its own timer (2 minutes by NATS's documentation).
 * Nearest to `everysec`, and weaker than it.
 */
import { AckPolicy, connect, RetentionPolicy, StorageType, type JsMsg } from 'nats';
import type { PeerProcess } from './processes.js';
import { runConcurrently, PAYLOAD_BYTES, type BenchQueue, type BenchSystem } from './system.js';

const FILL_DEPTH = 256;
const CONSUMER = 'work';

export async function natsSystem(peer: PeerProcess): Promise<BenchSystem> {
  const nc = await connect({ servers: `127.0.0.1:${peer.port}`, maxReconnectAttempts: 0 });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(120);
  return {
    id: 'nats',
    label: 'NATS JetStream',
    serverPid: peer.pid,
    describe:
      'NATS JetStream (file storage, work-queue stream, durable pull consumer with explicit acks; server defaults: no fsync per write or per second): ' +
      'js.publish awaiting the PubAck; fetch + ack (ackAck on the batch\'s last); consume() on the pull consumer for push',
    async newQueue(name: string): Promise<BenchQueue> {
      const stream = `Q_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      const subject = `q.${stream}`;
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Workqueue, num_replicas: 1 });
      await jsm.consumers.add(stream, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, max_ack_pending: 100_000 });
      const consumer = await js.consumers.get(stream, CONSUMER);
      const publish = async (): Promise<void> => {
        await js.publish(subject, payload);
      };
      return {
        publish,
        takeAndAck: async (max) => {
          const batch = await consumer.fetch({ max_messages: max, expires: 5_000 });
          let count = 0;
          let last: JsMsg | undefined;
          for await (const m of batch) {
            if (last) last.ack();
            last = m;
            count++;
          }
          if (last) await last.ackAck();
          return count;
        },
        subscribe: async (onMessage) => {
          const messages = await consumer.consume({ max_messages: 100 });
          const loop = (async () => {
            for await (const m of messages) {
              onMessage();
              m.ack();
            }
          })();
          return async () => {
            await messages.close();
            await loop;
          };
        },
        fill: (count) => runConcurrently(count, FILL_DEPTH, publish),
        drop: async () => {
          await jsm.streams.delete(stream);
        },
      };
    },
    async close() {
      await nc.close();
    },
  };
}
