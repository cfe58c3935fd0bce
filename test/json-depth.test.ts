/**
 * The JSON depth guard (src/server/json-depth.ts): a large, deeply nested
 * JSON text is refused before JSON.parse (which would take seconds on it),
 * over HTTP and TCP JSON, and a stored payload like that is shown as base64
 * rather than parsed at every delivery. Ordinary large JSON is untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPTH_SCAN_FROM_BYTES, MAX_JSON_DEPTH, TOO_DEEP, jsonTooDeep } from '../src/server/json-depth.js';
import { type Harness as HttpHarness, req, startHarness as startHttp } from './http/harness.js';
import { type Harness as TcpHarness, RawClient, startHarness as startTcp } from './tcp/helpers.js';

/** `depth` nested arrays padded with a long string inside, over the scan threshold. */
function nested(depth: number): string {
  const pad = 'x'.repeat(DEPTH_SCAN_FROM_BYTES);
  return '['.repeat(depth) + JSON.stringify(pad) + ']'.repeat(depth);
}
const deep = nested(MAX_JSON_DEPTH + 1);
const deepest = nested(MAX_JSON_DEPTH);
// The deepest payloads that fit in an HTTP body {"payload": …} and a TCP command {"data": {"payload": …}}.
const deepestInBody = nested(MAX_JSON_DEPTH - 1);
const deepestInCommand = nested(MAX_JSON_DEPTH - 2);
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('jsonTooDeep', () => {
  it('counts nesting above the threshold, and only there', () => {
    expect(jsonTooDeep(bytes(deep))).toBe(true);
    expect(jsonTooDeep(bytes(deepest))).toBe(false);
    // Small texts are not scanned: their worst case is a few ms of parse.
    expect(jsonTooDeep(bytes('['.repeat(1000) + ']'.repeat(1000)))).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    const inString = JSON.stringify({ s: '['.repeat(DEPTH_SCAN_FROM_BYTES), t: '\\"[[[' });
    expect(jsonTooDeep(bytes(inString))).toBe(false);
  });

  it('scans the given range of a buffer', () => {
    const buf = Buffer.concat([Buffer.from('xxxx'), bytes(deep), Buffer.from('yyyy')]);
    expect(jsonTooDeep(buf, 4, buf.length - 4)).toBe(true);
  });
});

describe('over HTTP', () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttp();
    await h.broker.createNamespace('d');
    await h.broker.createTopic('d', 't', 1);
  });
  afterAll(async () => {
    await h.stop();
  });

  it('a publish body nested too deep is a 400 naming the limit, and nothing is stored', async () => {
    const r = await req(h.base, 'POST', '/v1/namespaces/d/topics/t/publish', `{"payload":${deep}}`);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ success: false, message: `request body is not accepted: ${TOO_DEEP}` });
    expect((await h.broker.topicStats('d', 't')).pending).toBe(0);
  });

  it('the same size at the limit is accepted and returned as JSON', async () => {
    const r = await req(h.base, 'POST', '/v1/namespaces/d/topics/t/publish', `{"payload":${deepestInBody}}`);
    expect(r.status).toBe(200);
    const c = await req(h.base, 'POST', '/v1/namespaces/d/topics/t/queues/0/consume', { auto_ack: true });
    expect(c.json.data[0].payload_encoding).toBeUndefined();
    expect(JSON.stringify(c.json.data[0].payload)).toBe(deepestInBody);
  });

  it('a too-deep payload stored from bytes (gRPC, protobuf TCP) is delivered as base64, not parsed', async () => {
    await h.broker.publish('d', 't', bytes(deep));
    const c = await req(h.base, 'POST', '/v1/namespaces/d/topics/t/queues/0/consume', { auto_ack: true });
    expect(c.json.data[0].payload_encoding).toBe('base64');
    expect(Buffer.from(c.json.data[0].payload, 'base64').toString('utf8')).toBe(deep);
  });
});

describe('over TCP JSON', () => {
  let h: TcpHarness;
  beforeAll(async () => {
    h = await startTcp({ maxFrameBytes: 4 * DEPTH_SCAN_FROM_BYTES });
    await h.broker.createNamespace('d');
    await h.broker.createTopic('d', 't', 1);
  });
  afterAll(async () => {
    await h.close();
  });

  it('a command nested too deep is an error frame naming the limit; the connection goes on', async () => {
    const c = await RawClient.open(h.port);
    const refused = await c.jsonCall({ action: 'publish', data: { namespace: 'd', topic: 't', payload: JSON.parse(deep) } });
    expect(refused.status).toBe('error');
    expect(refused.error).toBe(`INVALID_ARGUMENT: malformed JSON: ${TOO_DEEP}`);
    const ok = await c.jsonCall({ action: 'publish', data: { namespace: 'd', topic: 't', payload: JSON.parse(deepestInCommand) } });
    expect(ok.status).toBe('ok');
    expect((await h.broker.topicStats('d', 't')).pending).toBe(1);
    c.close();
  });
});
