/**
 * The payload rule of docs/PROTOCOL.md "JSON surfaces": JSON published is JSON
 * returned; bytes that are not a JSON document come back as base64 with
 * `"payload_encoding": "base64"`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, req, startHarness } from './harness.js';

let h: Harness;
const topicPath = '/v1/namespaces/p/topics/t';

beforeAll(async () => {
  h = await startHarness();
  await h.broker.createNamespace('p');
  await h.broker.createTopic('p', 't', 1);
});
afterAll(async () => {
  await h.stop();
});

async function consumeOne(): Promise<any> {
  const r = await req(h.base, 'POST', `${topicPath}/queues/0/consume`, { batch_size: 1, auto_ack: true });
  expect(r.json.data).toHaveLength(1);
  return r.json.data[0];
}

describe('JSON published over HTTP is JSON returned', () => {
  const values: unknown[] = [
    { order: 17, items: [{ sku: 'a-1', qty: 2 }], note: 'héllo ✓ "quoted"\nline' },
    [1, 'two', null, false],
    'just a string',
    '',
    42.5,
    -0.001,
    true,
    null,
    {},
  ];
  for (const value of values) {
    it(`round-trips ${JSON.stringify(value)}`, async () => {
      const p = await req(h.base, 'POST', `${topicPath}/publish`, { payload: value });
      expect(p.status).toBe(200);
      const m = await consumeOne();
      expect(m.payload).toEqual(value);
      expect(m).not.toHaveProperty('payload_encoding');
    });
  }

  it('stores the JSON text of the value as the message bytes', async () => {
    await req(h.base, 'POST', `${topicPath}/publish`, { payload: { a: [1, 2] } });
    const [stored] = await h.broker.consume('p', 't', 0, 1, true);
    expect(Buffer.from(stored!.payload).toString('utf8')).toBe('{"a":[1,2]}');
  });
});

describe('bytes published elsewhere (gRPC, protobuf TCP)', () => {
  it('a JSON document is shown as its value', async () => {
    await h.broker.publish('p', 't', Buffer.from(' [1, {"b": "c"}] '));
    const m = await consumeOne();
    expect(m.payload).toEqual([1, { b: 'c' }]);
    expect(m).not.toHaveProperty('payload_encoding');
  });

  const notJson: [string, Uint8Array][] = [
    ['binary', new Uint8Array([0, 1, 2, 254, 255])],
    ['invalid UTF-8', new Uint8Array([0xc3, 0x28])],
    ['plain text', Buffer.from('hello world')],
    ['empty', new Uint8Array(0)],
    ['truncated JSON', Buffer.from('{"a":')],
  ];
  for (const [what, bytes] of notJson) {
    it(`${what} comes back as base64 with payload_encoding`, async () => {
      await h.broker.publish('p', 't', bytes);
      const m = await consumeOne();
      expect(m.payload_encoding).toBe('base64');
      expect(Buffer.from(m.payload, 'base64')).toEqual(Buffer.from(bytes));
    });
  }
});

// Found while fuzzing (hostile input): JSON.stringify of such a payload
// overflowed the stack and the request was answered 500 "internal error".
describe('a payload nested too deeply to store', () => {
  it('publish and publish-batch answer 400 naming the reason, and nothing is enqueued', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const before = h.broker.stats().pending;
    for (const [path, body] of [
      [`${topicPath}/publish`, `{"payload":${deep}}`],
      [`${topicPath}/publish-batch`, `{"entries":[{"payload":1},{"payload":${deep}}],"mode":"atomic"}`],
    ] as const) {
      const res = await fetch(`${h.base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ success: false, message: 'payload is nested too deeply to be stored: flatten it, or send it as a string' });
    }
    expect(h.broker.stats().pending).toBe(before);
  });
});
