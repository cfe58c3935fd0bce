/**
 * The compatibility mode for the original MQLite's clients (docs/PROTOCOL.md,
 * "Compatibility mode"; config compat.original): each front driven with the
 * original's request shapes, answered with its response shapes. Real
 * sockets: HTTP requests, an SSE reader, a raw TCP socket, a raw gRPC client.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateNamespaceRequestSchema,
  CreateNamespaceResponseSchema,
  DeleteTopicRequestSchema,
  DeleteTopicResponseSchema,
  MQLiteService,
} from '../../gen/mqlite/v1/mqlite_pb.js';
import { loadConfig, type RunningBroker, startBroker } from '../../src/server/embed.js';
import { rawGrpcClient, unaryRaw } from '../fuzz/harness.js';
import { RawClient } from '../tcp/helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function start(compat: boolean): Promise<RunningBroker> {
  const env = { MQLITE_PERSISTENCE: 'false', MQLITE_TCP_PORT: '0', MQLITE_HTTP_PORT: '0', MQLITE_GRPC_PORT: '0', MQLITE_COMPAT_ORIGINAL: String(compat) };
  return startBroker(loadConfig(undefined, { env }));
}

async function http(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** The first `event: message` of an SSE stream, parsed. */
async function firstSseMessage(port: number, path: string): Promise<any> {
  const ctl = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: ctl.signal });
  const reader = res.body!.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`SSE ended before a message: ${text}`);
      text += Buffer.from(value).toString();
      const m = /event: message\ndata: (.*)\n\n/.exec(text);
      if (m) return JSON.parse(m[1]!);
    }
  } finally {
    ctl.abort();
  }
}

describe('compat.original on', () => {
  let b: RunningBroker;
  beforeAll(async () => {
    b = await start(true);
    await b.broker.createNamespace('shop');
    await b.broker.createTopic('shop', 'orders', 1);
    await b.broker.createTopic('shop', 'events', 1);
    await b.broker.createTopic('shop', 'framed', 1);
  });
  afterAll(() => b.close());

  it('HTTP: consume shows the payload as base64 of the stored bytes, with no payload_encoding', async () => {
    const pub = await http(b.ports.http!, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: { sku: 'A1', qty: 2 } });
    expect(pub.status).toBe(200);
    await http(b.ports.http!, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: 'hello' });
    const r = await http(b.ports.http!, 'POST', '/v1/namespaces/shop/topics/orders/queues/0/consume', { batch_size: 10, auto_ack: true });
    expect(r.json.success).toBe(true);
    expect(r.json.data.map((m: any) => m.payload)).toEqual([b64('{"sku":"A1","qty":2}'), b64('"hello"')]);
    expect(r.json.data[0]).not.toHaveProperty('payload_encoding');
  });

  it('SSE: each event shows the payload as base64', async () => {
    await b.broker.publish('shop', 'events', Buffer.from('{"n":1}'));
    const m = await firstSseMessage(b.ports.http!, '/v1/namespaces/shop/topics/events/queues/0/subscribe?auto_ack=true');
    expect(m.payload).toBe(b64('{"n":1}'));
    expect(m).not.toHaveProperty('payload_encoding');
  });

  it('TCP JSON: consume replies and subscription pushes show base64', async () => {
    const c = await RawClient.open(b.ports.tcp!);
    try {
      await b.broker.publish('shop', 'framed', Buffer.from('[1,2]'));
      const r = await c.jsonCall({ action: 'consume', data: { namespace: 'shop', topic: 'framed', queue_id: 0, batch_size: 5, auto_ack: true } });
      expect(r.status).toBe('ok');
      expect(r.data.map((m: any) => m.payload)).toEqual([b64('[1,2]')]);
      const sub = await c.jsonCall({ action: 'subscribe', data: { namespace: 'shop', topic: 'framed', queue_id: 0, auto_ack: true } });
      expect(sub).toMatchObject({ status: 'ok', data: 'subscribed' });
      await b.broker.publish('shop', 'framed', Buffer.from('true'));
      const push = await c.json();
      expect(push.data.payload).toBe(b64('true'));
    } finally {
      c.socket.destroy();
    }
  });

  it('gRPC: a failed create or delete answers OK with success: false and the reason', async () => {
    const client = rawGrpcClient(b.ports.grpc!);
    try {
      const dup = await unaryRaw(client, `/${MQLiteService.typeName}/CreateNamespace`, Buffer.from(toBinary(CreateNamespaceRequestSchema, create(CreateNamespaceRequestSchema, { name: 'shop' }))));
      expect(dup.err).toBeNull();
      expect(fromBinary(CreateNamespaceResponseSchema, dup.body!)).toMatchObject({ success: false, message: "namespace 'shop' already exists" });
      const missing = await unaryRaw(client, `/${MQLiteService.typeName}/DeleteTopic`, Buffer.from(toBinary(DeleteTopicRequestSchema, create(DeleteTopicRequestSchema, { namespace: 'shop', name: 'nope' }))));
      expect(missing.err).toBeNull();
      expect(fromBinary(DeleteTopicResponseSchema, missing.body!)).toMatchObject({ success: false, message: expect.stringContaining("'nope'") });
      // Nothing was changed by either.
      expect(b.broker.listNamespaces()).toEqual(['shop']);
    } finally {
      client.close();
    }
  });
});

describe('compat.original off (the default): this broker\'s own answers', () => {
  let b: RunningBroker;
  beforeAll(async () => {
    b = await start(false);
    await b.broker.createNamespace('shop');
    await b.broker.createTopic('shop', 'orders', 1);
  });
  afterAll(() => b.close());

  it('JSON payloads come back as the JSON value; gRPC failures are statuses', async () => {
    await http(b.ports.http!, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: { sku: 'A1' } });
    const r = await http(b.ports.http!, 'POST', '/v1/namespaces/shop/topics/orders/queues/0/consume', { batch_size: 10, auto_ack: true });
    expect(r.json.data[0].payload).toEqual({ sku: 'A1' });
    const client = rawGrpcClient(b.ports.grpc!);
    try {
      const dup = await unaryRaw(client, `/${MQLiteService.typeName}/CreateNamespace`, Buffer.from(toBinary(CreateNamespaceRequestSchema, create(CreateNamespaceRequestSchema, { name: 'shop' }))));
      expect(dup.err?.details).toContain('already exists');
    } finally {
      client.close();
    }
  });
});
