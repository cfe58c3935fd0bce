/**
 * The access log carries each request's X-Request-ID, and an
 * error that is not the broker's is answered 500 without its details and
 * logged with them.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Broker } from '../../src/broker/broker.js';
import { type HttpFrontHandle, startHttpServer } from '../../src/server/http/index.js';
import { req } from './harness.js';

let front: HttpFrontHandle | undefined;
afterEach(async () => {
  await front?.close();
  front = undefined;
});

function capture(): { lines: any[]; logger: pino.Logger } {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

async function start(broker: Broker, logger: pino.Logger): Promise<string> {
  front = await startHttpServer(broker, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024, sseHeartbeatMs: 0, sseMaxInflight: 10, logger });
  return `http://127.0.0.1:${front.port}`;
}

describe('access log', () => {
  it('has the request id, method, path and status of each request', async () => {
    const { lines, logger } = capture();
    const base = await start(new Broker(), logger);
    const ok = await req(base, 'GET', '/v1/namespaces', undefined, { 'x-request-id': 'log-ok' });
    const bad = await req(base, 'DELETE', '/v1/namespaces/ghost', undefined, { 'x-request-id': 'log-404' });
    const generated = await req(base, 'GET', '/health');
    expect(ok.status).toBe(200);
    expect(bad.status).toBe(404);
    const access = lines.filter((l) => l.msg === 'http request');
    expect(access).toContainEqual(expect.objectContaining({ level: 20, requestId: 'log-ok', method: 'GET', path: '/v1/namespaces', status: 200 }));
    expect(access).toContainEqual(expect.objectContaining({ level: 30, requestId: 'log-404', method: 'DELETE', path: '/v1/namespaces/ghost', status: 404 }));
    expect(access).toContainEqual(expect.objectContaining({ requestId: generated.headers.get('x-request-id'), path: '/health', status: 200 }));
  });
});

describe('errors that are not the broker’s', () => {
  it('answer 500 "internal error" and are logged with their details', async () => {
    const { lines, logger } = capture();
    const broken = new Broker();
    broken.listNamespaces = () => {
      throw new TypeError('boom: a bug');
    };
    const base = await start(broken, logger);
    const r = await req(base, 'GET', '/v1/namespaces', undefined, { 'x-request-id': 'log-500' });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ success: false, message: 'internal error' });
    expect(r.text).not.toContain('boom');
    const line = lines.find((l) => l.requestId === 'log-500');
    expect(line).toMatchObject({ level: 50, status: 500, err: { type: 'TypeError', message: 'boom: a bug' } });
    // The server goes on serving.
    expect((await req(base, 'GET', '/health')).status).toBe(200);
  });
});
