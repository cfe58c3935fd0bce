/**
 * The Hono app outside Node's HTTP server (`app.request`, as a fetch
 * runtime would call it): bodies are read from the Request stream, with the
 * same limit and replies.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Broker } from '../../src/broker/broker.js';
import { createApp } from '../../src/server/http/index.js';

function app(): { broker: Broker; request: (path: string, init?: RequestInit) => Promise<Response> } {
  const broker = new Broker();
  const { app } = createApp(broker, { maxBodyBytes: 100, sseHeartbeatMs: 0, sseMaxInflight: 10, logger: pino({ level: 'silent' }) });
  return { broker, request: async (path, init) => app.request(path, init) };
}

describe('createApp without Node bindings', () => {
  it('reads a JSON body from the Request stream', async () => {
    const { broker, request } = app();
    const r = await request('/v1/namespaces', { method: 'POST', body: '{"name":"fetchy"}', headers: { 'x-request-id': 'f-1' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe('f-1');
    expect(await r.json()).toEqual({ success: true, message: 'namespace created' });
    expect(broker.listNamespaces()).toEqual(['fetchy']);
  });

  it('413 for a body over the limit, declared or streamed', async () => {
    const { broker, request } = app();
    const big = JSON.stringify({ name: 'x'.repeat(200) });
    const declared = await request('/v1/namespaces', { method: 'POST', body: big, headers: { 'content-length': String(big.length) } });
    expect(declared.status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(50)));
        c.close();
      },
    });
    const streamed = await request('/v1/namespaces', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toEqual({ success: false, message: 'request body is larger than the limit of 100 bytes' });
    expect(broker.listNamespaces()).toEqual([]);
  });
});
