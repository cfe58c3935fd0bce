/**
 * The typed HttpClient (src/client/http) against a real front: every
 * MqliteClient method, errors as ClientError with the broker's code, the
 * payload rule from the client's side, and SSE subscriptions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, SseParser, payloadJsonText } from '../../src/client/http/index.js';
import { ClientError, type ClientMessage } from '../../src/client/types.js';
import { eventually, type Harness, rejection, req, startHarness } from './harness.js';

for (const transport of ['http', 'fetch', 'raw'] as const) {
  describe(`over ${transport}`, () => {
    let h: Harness;
      let client: HttpClient;

    beforeAll(async () => {
      h = await startHarness({ broker: { ackTimeoutMs: 200 } });
      client = new HttpClient({ baseUrl: `${h.base}/`, timeoutMs: 5_000, transport });
    });
    afterAll(async () => {
      await client.close();
      await h.stop();
    });

    describe('admin calls', () => {
      it('health, namespaces, topics, resize, rebalance', async () => {
        expect(await client.health()).toEqual({ status: 'ok' });
        await client.createNamespace('c1');
        expect(await client.listNamespaces()).toContain('c1');
        await client.createTopic('c1', 'orders', 2);
        expect(await client.listTopics('c1')).toEqual([{ name: 'orders', queueCount: 2, version: 0n, paused: false }]);
        expect(await client.resizeTopic('c1', 'orders', 4)).toEqual({ newQueueCount: 4, version: 1n, draining: false });
        await client.rebalanceTopic('c1', 'orders');
        await client.deleteTopic('c1', 'orders');
        expect(await client.listTopics('c1')).toEqual([]);
        await client.deleteNamespace('c1');
        expect(await client.listNamespaces()).not.toContain('c1');
      });

      it('errors carry the broker code and the reason', async () => {
        await client.createNamespace('c2');
        expect(await rejection(client.createNamespace('c2'))).toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringMatching(/already exists/) });
        expect(await rejection(client.deleteNamespace('ghost'))).toMatchObject({ code: 'NOT_FOUND' });
        expect(await rejection(client.createTopic('c2', 't', 0))).toMatchObject({ code: 'INVALID_ARGUMENT' });
        expect(await rejection(client.createNamespace('bad name'))).toMatchObject({ code: 'INVALID_ARGUMENT' });
        expect(await rejection(client.publish('c2', 'ghost', 'x'))).toMatchObject({ code: 'NOT_FOUND' });
        const down = new HttpClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2_000, transport });
        expect(await rejection(down.health())).toMatchObject({ code: 'TRANSPORT' });
      });
    });

    describe('publish, consume, ack', () => {
      beforeAll(async () => {
        await client.createNamespace('m');
        await client.createTopic('m', 't', 2);
      });

      it('round-trips with headers, explicit queue and routing key', async () => {
        const p = await client.publish('m', 't', '{"n":1}', { headers: { a: 'b' }, queueId: 1 });
        expect(p.queueId).toBe(1);
        const [m] = await client.consume('m', 't', 1, { batchSize: 5 });
        expect(m).toMatchObject({ id: p.messageId, namespace: 'm', topic: 't', queueId: 1, headers: { a: 'b' }, deliveryCount: 1 });
        expect(Buffer.from(m!.payload).toString()).toBe('{"n":1}');
        await client.ack('m', 't', 1, [m!.id]);
        expect(await client.consume('m', 't', 1)).toEqual([]);
        const k1 = await client.publish('m', 't', '1', { routingKey: 'key' });
        const k2 = await client.publish('m', 't', '2', { routingKey: 'key' });
        expect(k1.queueId).toBe(k2.queueId);
        expect((await client.consume('m', 't', k1.queueId, { batchSize: 10, autoAck: true })).length).toBe(2);
      });

      it('payloads: a JSON document is sent as that value, anything else as a JSON string; non-JSON stored bytes decode from base64', async () => {
        expect(payloadJsonText('{"a": 1}')).toBe('{"a": 1}');
        expect(payloadJsonText('plain')).toBe('"plain"');
        expect(payloadJsonText(Buffer.from('[1,2]'))).toBe('[1,2]');
        expect(payloadJsonText('')).toBe('""');
        await client.publish('m', 't', Buffer.from('[1, 2]'), { queueId: 0 });
        await client.publish('m', 't', 'plain text', { queueId: 0 });
        await h.broker.publish('m', 't', new Uint8Array([0, 255, 7]), { queueId: 0 });
        const got = await client.consume('m', 't', 0, { batchSize: 3, autoAck: true });
        expect(got.map((g) => Buffer.from(g.payload))).toEqual([Buffer.from('[1,2]'), Buffer.from('"plain text"'), Buffer.from([0, 255, 7])]);
      });

      it('timestamps are exact nanoseconds (whole microseconds from this broker)', async () => {
        await client.publish('m', 't', '"ts"', { queueId: 0 });
        const raw = await req(h.base, 'POST', '/v1/namespaces/m/topics/t/queues/0/consume', { batch_size: 1 });
        const digits = /"timestamp":(\d+)/.exec(raw.text)![1]!;
        // Not acked: redelivered after the 200 ms ack timeout, same timestamp.
        let again: ClientMessage[] = [];
        await eventually(async () => (again = await client.consume('m', 't', 0, { autoAck: true })).length === 1, 5_000, 'redelivery');
        expect(again[0]!.timestamp).toBe(BigInt(digits));
        expect(again[0]!.deliveryCount).toBe(2);
      });
    });

    describe('subscribe (SSE)', () => {
      beforeAll(async () => {
        await client.createNamespace('s');
        await client.createTopic('s', 't', 1);
        await client.createTopic('s', 'manual', 1);
      });

      it('delivers messages pushed after it opened, and close() ends it', async () => {
        const got: ClientMessage[] = [];
        let ended: ClientError | undefined | 'no' = 'no';
        const sub = await client.subscribe('s', 't', 0, { autoAck: true, onMessage: (m) => got.push(m), onEnd: (e) => (ended = e) });
        for (let i = 0; i < 20; i++) await client.publish('s', 't', String(i));
        await eventually(() => got.length === 20, 5_000, '20 messages');
        expect(got.map((m) => Number(Buffer.from(m.payload).toString()))).toEqual([...Array(20).keys()]);
        await sub.close();
        expect(ended).toBeUndefined();
      });

      it('manual ack with maxInflight', async () => {
        const got: ClientMessage[] = [];
        for (let i = 0; i < 4; i++) await client.publish('s', 'manual', String(i));
        const sub = await client.subscribe('s', 'manual', 0, { autoAck: false, maxInflight: 1, onMessage: (m) => got.push(m) });
        await eventually(() => got.length === 1, 5_000, 'first');
        expect(Buffer.from(got[0]!.payload).toString()).toBe('0');
        await client.ack('s', 'manual', 0, [got[0]!.id]);
        await eventually(() => got.length === 2, 5_000, 'second');
        await sub.close();
        // Closed with one unacked in flight: it is delivered again later.
        const rest: ClientMessage[] = [];
        await eventually(async () => {
          rest.push(...(await client.consume('s', 'manual', 0, { batchSize: 10, autoAck: true })));
          return rest.length === 3;
        }, 5_000, 'the rest');
        expect(rest.map((m) => Buffer.from(m.payload).toString()).sort()).toEqual(['1', '2', '3']);
      });

      it('rejects with NOT_FOUND for an unknown queue; onEnd reports a deleted topic', async () => {
        expect(await rejection(client.subscribe('s', 't', 9, { autoAck: true, onMessage: () => undefined }))).toMatchObject({ code: 'NOT_FOUND' });
        await client.createTopic('s', 'doomed', 1);
        let ended: ClientError | undefined;
        let done = false;
        await client.subscribe('s', 'doomed', 0, {
          autoAck: true,
          onMessage: () => undefined,
          onEnd: (e) => {
            ended = e;
            done = true;
          },
        });
        await client.deleteTopic('s', 'doomed');
        await eventually(() => done, 5_000, 'end of stream');
        expect(ended).toMatchObject({ code: 'NOT_FOUND' });
      });
    });
  });
}

describe('SseParser', () => {
  it('handles LF, CRLF and CR line ends, split chunks, comments and multi-line data', () => {
    const events: [string, string][] = [];
    const p = new SseParser((e, d) => events.push([e, d]));
    const stream = ': hi\r\nevent: message\r\ndata: {"a":1}\r\n\r\ndata: x\rdata: y\r\revent: end\ndata: z\n\n';
    for (const ch of stream) p.push(ch); // worst case: one character per chunk
    expect(events).toEqual([
      ['message', '{"a":1}'],
      ['message', 'x\ny'],
      ['end', 'z'],
    ]);
  });
});
