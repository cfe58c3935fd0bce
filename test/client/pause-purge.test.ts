/**
 * docs/DESIGN.md, "Pause" and "Purge" through the typed client over every
 * protocol (TCP protobuf, TCP JSON, HTTP with SSE, gRPC): a subscriber of a
 * paused topic is pushed nothing (the broker shows the messages pending,
 * none in flight), and gets them in order after resume; purge answers the
 * count; an unknown topic and a queue out of range are typed errors that
 * change nothing.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import type { Client } from '../../src/client/client.js';
import type { ClientMessage } from '../../src/client/types.js';
import { Broker } from '../../src/broker/broker.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import { until } from '../tcp/helpers.js';

const logger = pino({ level: 'silent' });
let broker: Broker;
const fronts: FrontHandle[] = [];
const urls: Record<string, string> = {};

beforeAll(async () => {
  broker = new Broker({ ackTimeoutMs: 60_000 });
  const host = '127.0.0.1';
  const tcp = await startTcpServer(broker, { host, port: 0, maxFrameBytes: 1 << 20, logger });
  const http = await startHttpServer(broker, { host, port: 0, maxBodyBytes: 1 << 20, sseHeartbeatMs: 15_000, sseMaxInflight: 100, logger });
  const grpc = await startGrpcServer(broker, { host, port: 0, maxMessageBytes: 1 << 20, logger });
  fronts.push(tcp, http, grpc);
  urls['tcp'] = `tcp://${host}:${tcp.port}`;
  urls['tcp-json'] = `tcp://${host}:${tcp.port}?encoding=json`;
  urls['http'] = `http://${host}:${http.port}`;
  urls['grpc'] = `grpc://${host}:${grpc.port}`;
});
afterAll(async () => {
  await Promise.allSettled(fronts.map((f) => f.close()));
  await broker.close();
});

const text = (m: ClientMessage): string => Buffer.from(m.payload).toString();

for (const proto of ['tcp', 'tcp-json', 'http', 'grpc'] as const) {
  describe(`pause and purge over ${proto}`, () => {
    const ns = `pp-${proto}`;
    let c: Client;
    beforeAll(async () => {
      c = await connect(urls[proto]);
      await c.createNamespace(ns);
    });
    afterAll(async () => {
      await c.close();
    });

    it('a subscriber gets nothing while paused, then every message in order after resume', async () => {
      await c.createTopic(ns, 'push', 1);
      const got: ClientMessage[] = [];
      const sub = await c.subscribe(ns, 'push', 0, { autoAck: false, onMessage: (m) => got.push(m) });
      await c.pauseTopic(ns, 'push');
      for (const n of ['1', '2', '3']) await c.publish(ns, 'push', n);
      // A push pops the message into flight: none in flight means none was pushed.
      expect(await c.topicStats(ns, 'push')).toMatchObject({ paused: true, pending: 3, inFlight: 0 });
      expect(got).toEqual([]);
      await c.resumeTopic(ns, 'push');
      await until(async () => (got.length === 3 ? true : undefined));
      expect(got.map(text)).toEqual(['1', '2', '3']);
      await c.ack(ns, 'push', 0, got.map((m) => m.id));
      await sub.close();
      expect(await c.topicStats(ns, 'push')).toMatchObject({ paused: false, pending: 0, inFlight: 0, acked: 3 });
    });

    it('purge answers the count; bad input is a typed error and nothing is lost', async () => {
      await c.createTopic(ns, 'purge', 2);
      await c.publish(ns, 'purge', '1', { queueId: 0 });
      await c.publish(ns, 'purge', '2', { queueId: 1 });
      await expect(c.purge(ns, 'purge', { queueId: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/queue 2/) });
      await expect(c.purge(ns, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(c.pauseTopic(ns, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await c.topicStats(ns, 'purge')).toMatchObject({ pending: 2, purged: 0 });
      expect(await c.purge(ns, 'purge', { queueId: 0 })).toBe(1);
      expect(await c.purge(ns, 'purge')).toBe(1);
      expect(await c.purge(ns, 'purge', { dlq: true })).toBe(0);
      expect(await c.topicStats(ns, 'purge')).toMatchObject({ pending: 0, purged: 2 });
    });
  });
}
