/**
 * MQLite through one of its fronts and the typed client of that front. A
 * queue is a topic of one queue; consume-with-acks is `consume` without
 * auto-ack then one `ack` of the batch's ids; push is `subscribe` with
 * auto-ack, from a client of its own (its own connection), as Redis's
 * BRPOP has its own connection: on the publisher's connection a push would
 * wait behind the publish's reply (docs/PROTOCOL.md, "Subscriptions and
 * push frames": no push frame before a reply owed to an earlier request),
 * which waits for the AOF. Fills go through a TCP protobuf connection
 * whatever the front, so the set-up of an HTTP measurement does not take
 * the time of its run.
 */
import { GrpcClient } from '../../src/client/grpc/index.js';
import { HttpClient } from '../../src/client/http/index.js';
import { TcpClient } from '../../src/client/tcp/index.js';
import type { MqliteClient } from '../../src/client/types.js';
import { benchApiKey, type ServerProcess } from '../server-process.js';
import { runConcurrently, PAYLOAD_BYTES, type BenchQueue, type BenchSystem } from './system.js';

export type Front = 'tcp' | 'grpc' | 'http';
export type Fsync = 'everysec' | 'always';

const NS = 'peers';
const FILL_DEPTH = 256;

export const FRONT_LABELS: Record<Front, string> = { tcp: 'TCP protobuf', grpc: 'gRPC', http: 'HTTP' };

async function connect(front: Front, ports: ServerProcess['ports']): Promise<MqliteClient> {
  switch (front) {
    case 'tcp':
      return TcpClient.connect({ host: '127.0.0.1', port: ports.tcp, encoding: 'protobuf', apiKey: benchApiKey });
    case 'grpc':
      return new GrpcClient({ host: '127.0.0.1', port: ports.grpc, timeoutMs: 30_000, apiKey: benchApiKey });
    case 'http':
      return new HttpClient({ baseUrl: `http://127.0.0.1:${ports.http}`, apiKey: benchApiKey });
  }
}

/** `ensureNamespace` once per server: the three fronts share it. */
export async function mqliteSystem(server: ServerProcess, front: Front, fsync: Fsync, ensureNamespace: boolean): Promise<BenchSystem> {
  const client = await connect(front, server.ports);
  const filler = await TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'protobuf', apiKey: benchApiKey });
  if (ensureNamespace) await filler.createNamespace(NS);
  // HTTP carries JSON: its payload is a JSON string document of 1 KiB, which
  // the client sends as it is and the broker stores and serves as JSON (not
  // base64); fills over TCP store the same bytes. The other fronts carry bytes.
  const text = JSON.stringify('x'.repeat(PAYLOAD_BYTES - 2));
  const fillPayload = front === 'http' ? Buffer.from(text) : new Uint8Array(PAYLOAD_BYTES).fill(120);
  const payload = front === 'http' ? text : fillPayload;
  return {
    id: `mqlite-${front}.${fsync}`,
    label: `MQLite ${FRONT_LABELS[front]}`,
    serverPid: server.pid,
    describe: `MQLite over ${FRONT_LABELS[front]}, AOF fsync ${fsync}: publish; consume (batch, no auto-ack) then ack of the batch's ids; subscribe with auto-ack on a second client`,
    async newQueue(topic: string): Promise<BenchQueue> {
      await client.createTopic(NS, topic, 1);
      return {
        publish: async () => {
          await client.publish(NS, topic, payload);
        },
        takeAndAck: async (max) => {
          const batch = await client.consume(NS, topic, 0, { batchSize: max, autoAck: false });
          if (batch.length > 0) await client.ack(NS, topic, 0, batch.map((m) => m.id));
          return batch.length;
        },
        subscribe: async (onMessage) => {
          const subscriber = await connect(front, server.ports);
          try {
            const sub = await subscriber.subscribe(NS, topic, 0, { autoAck: true, onMessage });
            return async () => {
              await sub.close();
              await subscriber.close();
            };
          } catch (err) {
            await subscriber.close();
            throw err;
          }
        },
        fill: (count) => runConcurrently(count, FILL_DEPTH, () => filler.publish(NS, topic, fillPayload)),
        drop: () => client.deleteTopic(NS, topic),
      };
    },
    async close() {
      await client.close();
      await filler.close();
    },
  };
}
