/**
 * SSE subscribe (docs/PROTOCOL.md "HTTP (REST + SSE)"; docs/DESIGN.md "Subscriptions"): exact event
 * framing on a raw socket, a real EventSource client, push without polling,
 * manual ack with max_inflight, disconnect, heartbeat, the resize notice,
 * the end of a stream, and a subscriber that stops reading.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSource } from 'eventsource';
import { connect } from 'node:net';
import { eventually, type Harness, rawSubscribe, req, sseMessages, startHarness } from './harness.js';

let h: Harness;
let topicSeq = 0;

/** A fresh topic for each test: no state leaks between them. */
async function freshTopic(queues = 1): Promise<{ name: string; path: string; q0: string }> {
  const name = `t${++topicSeq}`;
  await h.broker.createTopic('sse', name, queues);
  const path = `/v1/namespaces/sse/topics/${name}`;
  return { name, path, q0: `${path}/queues/0` };
}

beforeAll(async () => {
  h = await startHarness({ broker: { ackTimeoutMs: 400 }, sseMaxInflight: 50 });
  await h.broker.createNamespace('sse');
});
afterAll(async () => {
  await h.stop();
});

describe('event framing (raw socket)', () => {
  it('answers text/event-stream, then one `event: message` with the Message JSON on one data line', async () => {
    const t = await freshTopic();
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`, 'X-Request-ID: sse-1\r\n');
    try {
      const head = conn.response.head;
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(head).toMatch(/^content-type: text\/event-stream$/im);
      expect(head).toMatch(/^cache-control: no-cache$/im);
      expect(head).toMatch(/^x-request-id: sse-1$/im);
      const pub = await req(h.base, 'POST', `${t.path}/publish`, { payload: { hello: 'world' }, headers: { h1: 'v1' } });
      const id = pub.json.data.message_id as string;
      const r = await conn.untilResponse((x) => x.body.includes('event: message'));
      const expected = new RegExp(
        '^: subscribed\\n\\n' +
          'event: message\\n' +
          `data: \\{"id":"${id}","namespace":"sse","topic":"${t.name}","queue_id":0,"payload":\\{"hello":"world"\\},` +
          '"timestamp":\\d{19},"headers":\\{"h1":"v1"\\},"delivery_count":1\\}\\n\\n$',
      );
      expect(r.body).toMatch(expected);
    } finally {
      conn.destroy();
    }
  });

  it('pushes messages waiting before the subscription, then new ones, in order', async () => {
    const t = await freshTopic();
    for (let i = 0; i < 3; i++) await h.broker.publish('sse', t.name, Buffer.from(JSON.stringify(i)));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      await conn.untilResponse((r) => sseMessages(r.body).length === 3);
      for (let i = 3; i < 6; i++) await req(h.base, 'POST', `${t.path}/publish`, { payload: i });
      const r = await conn.untilResponse((x) => sseMessages(x.body).length === 6);
      expect(sseMessages(r.body).map((m) => m.payload)).toEqual([0, 1, 2, 3, 4, 5]);
      // auto_ack: nothing left behind, nothing in flight.
      expect(await h.broker.consume('sse', t.name, 0, 10, false)).toEqual([]);
    } finally {
      conn.destroy();
    }
  });

  it('a JSON payload with line breaks still arrives as one data line, same value', async () => {
    const t = await freshTopic();
    await h.broker.publish('sse', t.name, Buffer.from('{\n  "a": [1,\r\n 2]\r}'));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      const r = await conn.untilResponse((x) => x.body.includes('event: message'));
      const lines = r.body.split('\n').filter((l) => l.startsWith('data: '));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!.slice(6)).payload).toEqual({ a: [1, 2] });
    } finally {
      conn.destroy();
    }
  });

  it('bytes that are not JSON come as base64 with payload_encoding', async () => {
    const t = await freshTopic();
    await h.broker.publish('sse', t.name, new Uint8Array([0xff, 0x00, 0x41]));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      const r = await conn.untilResponse((x) => x.body.includes('event: message'));
      const [m] = sseMessages(r.body);
      expect(m.payload).toBe(Buffer.from([0xff, 0x00, 0x41]).toString('base64'));
      expect(m.payload_encoding).toBe('base64');
    } finally {
      conn.destroy();
    }
  });
});

describe('several subscribers on one queue', () => {
  it('each message goes to exactly one of them: none lost, none twice', async () => {
    const t = await freshTopic();
    const a = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    const b = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      for (let i = 0; i < 100; i++) await h.broker.publish('sse', t.name, Buffer.from(String(i)));
      const count = (): number => sseMessages(a.response.body).length + sseMessages(b.response.body).length;
      await eventually(() => count() === 100, 5_000, '100 messages');
      const all = [...sseMessages(a.response.body), ...sseMessages(b.response.body)].map((m) => m.payload as number);
      expect(all.sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

describe('EventSource client', () => {
  it('receives each message as a `message` event whose data is the Message JSON', async () => {
    const t = await freshTopic();
    await req(h.base, 'POST', `${t.path}/publish`, { payload: 'before' });
    const received: any[] = [];
    const es = new EventSource(`${h.base}${t.q0}/subscribe?auto_ack=true`);
    try {
      es.addEventListener('message', (ev) => received.push(JSON.parse(ev.data)));
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = (e) => reject(new Error(`EventSource error: ${e.message}`));
      });
      await eventually(() => received.length === 1, 5_000, 'the waiting message');
      await req(h.base, 'POST', `${t.path}/publish`, { payload: { after: true }, headers: { x: 'y' } });
      await eventually(() => received.length === 2, 5_000, 'the new message');
      expect(received.map((m) => m.payload)).toEqual(['before', { after: true }]);
      expect(received[1]).toMatchObject({ namespace: 'sse', topic: t.name, queue_id: 0, headers: { x: 'y' }, delivery_count: 1 });
    } finally {
      es.close();
    }
  });
});

describe('subscribe errors are plain replies, not streams', () => {
  it('404 for unknown namespace, topic or queue; 400 for bad auto_ack or max_inflight', async () => {
    const t = await freshTopic();
    const cases: [string, number, RegExp][] = [
      ['/v1/namespaces/ghost/topics/x/queues/0/subscribe', 404, /not found/],
      ['/v1/namespaces/sse/topics/ghost/queues/0/subscribe', 404, /not found/],
      [`${t.path}/queues/5/subscribe`, 404, /not found/],
      [`${t.path}/queues/x/subscribe`, 400, /queue id must be an integer/],
      [`${t.q0}/subscribe?auto_ack=maybe`, 400, /auto_ack must be true or false/],
      [`${t.q0}/subscribe?max_inflight=abc`, 400, /max_inflight must be an integer/],
      [`${t.q0}/subscribe?max_inflight=0`, 400, /max_inflight/],
    ];
    for (const [path, status, reason] of cases) {
      const r = await req(h.base, 'GET', path);
      expect(r.status, path).toBe(status);
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
      expect(r.json.success).toBe(false);
      expect(r.json.message).toMatch(reason);
    }
  });
});

describe('auto_ack spellings', () => {
  it('accepts what Go clients send (True, 1, t...) and defaults to manual ack', async () => {
    // Its own broker with the default 30 s ack timeout: in-flight stays in flight here.
    const own = await startHarness();
    try {
      await own.broker.createNamespace('n');
      const cases = [['auto_ack=True', true], ['auto_ack=1', true], ['auto_ack=t', true], ['auto_ack=FALSE', false], ['', false]] as const;
      for (const [i, [query, autoAck]] of cases.entries()) {
        await own.broker.createTopic('n', `t${i}`, 1);
        await own.broker.publish('n', `t${i}`, Buffer.from('1'));
        const conn = await rawSubscribe(own.port, `/v1/namespaces/n/topics/t${i}/queues/0/subscribe?${query}`);
        try {
          await conn.untilResponse((x) => sseMessages(x.body).length === 1);
        } finally {
          conn.destroy();
        }
        // Manual ack leaves the message in flight; auto-ack removes it.
        expect(own.broker.stats().inflight, query).toBe(autoAck ? 0 : 1);
        await own.broker.deleteTopic('n', `t${i}`);
      }
    } finally {
      await own.stop();
    }
  });
});

describe('manual ack: max_inflight bounds the messages held', () => {
  it('holds at most max_inflight unacked messages; an ack lets the next ones through', async () => {
    const t = await freshTopic();
    for (let i = 0; i < 5; i++) await h.broker.publish('sse', t.name, Buffer.from(String(i)));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=false&max_inflight=2`);
    try {
      let r = await conn.untilResponse((x) => sseMessages(x.body).length >= 2);
      // Give a third message every chance to (wrongly) arrive.
      await new Promise((res) => setTimeout(res, 100));
      r = conn.response;
      const first = sseMessages(r.body);
      expect(first.map((m) => m.payload)).toEqual([0, 1]);
      await req(h.base, 'POST', `${t.q0}/ack`, { message_ids: first.map((m) => m.id) });
      r = await conn.untilResponse((x) => sseMessages(x.body).length >= 4);
      expect(sseMessages(r.body).map((m) => m.payload)).toEqual([0, 1, 2, 3]);
    } finally {
      conn.destroy();
    }
  });

  it('uses the configured default without max_inflight (here 50)', async () => {
    const t = await freshTopic();
    for (let i = 0; i < 60; i++) await h.broker.publish('sse', t.name, Buffer.from(String(i)));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe`);
    try {
      await conn.untilResponse((x) => sseMessages(x.body).length >= 50);
      await new Promise((res) => setTimeout(res, 100));
      expect(sseMessages(conn.response.body)).toHaveLength(50);
    } finally {
      conn.destroy();
    }
  });
});

describe('client disconnect', () => {
  it('ends the subscription at once: later messages stay queued', async () => {
    const t = await freshTopic();
    // Streams of earlier tests are gone, so the count below is this one's.
    await eventually(() => h.front.sseStreams === 0, 5_000, 'earlier streams to close');
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    await req(h.base, 'POST', `${t.path}/publish`, { payload: 'seen' });
    await conn.untilResponse((x) => sseMessages(x.body).length === 1);
    expect(h.front.sseStreams).toBe(1);
    conn.destroy();
    await eventually(() => h.front.sseStreams === 0, 5_000, 'the server to see the disconnect');
    await req(h.base, 'POST', `${t.path}/publish`, { payload: 'kept' });
    const c = await req(h.base, 'POST', `${t.q0}/consume`, { batch_size: 10, auto_ack: true });
    expect(c.json.data.map((m: any) => m.payload)).toEqual(['kept']);
  });

  it('its unacked messages are delivered again after the ack deadline', async () => {
    const t = await freshTopic();
    await h.broker.publish('sse', t.name, Buffer.from('"held"'));
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=false`);
    const [held] = sseMessages((await conn.untilResponse((x) => sseMessages(x.body).length === 1)).body);
    conn.destroy();
    // ack_timeout is 400 ms in this harness.
    let again: any[] = [];
    await eventually(
      async () => {
        again = (await req(h.base, 'POST', `${t.q0}/consume`, { batch_size: 10, auto_ack: true })).json.data;
        return again.length > 0;
      },
      5_000,
      'redelivery',
    );
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ id: held.id, payload: 'held', delivery_count: 2 });
  });
});

describe('heartbeat', () => {
  it('sends a comment every sse_heartbeat interval on an idle stream', async () => {
    const fast = await startHarness({ sseHeartbeatMs: 50 });
    try {
      await fast.broker.createNamespace('n');
      await fast.broker.createTopic('n', 't', 1);
      const conn = await rawSubscribe(fast.port, '/v1/namespaces/n/topics/t/queues/0/subscribe?auto_ack=true');
      try {
        const r = await conn.untilResponse((x) => x.body.split(': heartbeat\n\n').length - 1 >= 3);
        expect(r.body).toMatch(/^: subscribed\n\n(: heartbeat\n\n){3,}$/);
      } finally {
        conn.destroy();
      }
    } finally {
      await fast.stop();
    }
  });
});

describe('resize notice', () => {
  it('is a Message with id _resize_<version>, queue_id -1, empty payload and the _event headers', async () => {
    const t = await freshTopic(1);
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      await req(h.base, 'PUT', `${t.path}/resize`, { new_queue_count: 3 });
      const r = await conn.untilResponse((x) => sseMessages(x.body).length === 1);
      const [n] = sseMessages(r.body);
      expect(n).toMatchObject({
        id: '_resize_1',
        namespace: 'sse',
        topic: t.name,
        queue_id: -1,
        payload: '',
        headers: { _event: 'topic_resized', _queue_count: '3', _version: '1' },
      });
    } finally {
      conn.destroy();
    }
  });
});

describe('end of a stream', () => {
  it('deleting the topic sends `event: end` with the reason and ends the response', async () => {
    const t = await freshTopic();
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true`);
    try {
      await req(h.base, 'DELETE', t.path);
      const r = await conn.untilResponse((x) => x.ended);
      expect(r.body).toMatch(/event: end\ndata: \{"success":false,"message":"[^"]*not found[^"]*"\}\n\n$/);
    } finally {
      conn.destroy();
    }
  });

  it('closing the front ends open streams with `event: end`', async () => {
    const other = await startHarness();
    await other.broker.createNamespace('n');
    await other.broker.createTopic('n', 't', 1);
    const conn = await rawSubscribe(other.port, '/v1/namespaces/n/topics/t/queues/0/subscribe?auto_ack=true');
    try {
      await other.stop();
      const r = await conn.untilResponse((x) => x.ended);
      expect(r.body).toContain('event: end\ndata: {"success":false,"message":"server shutting down"}\n\n');
    } finally {
      conn.destroy();
    }
  });
});

describe('a subscriber that stops reading', () => {
  it('is paused instead of buffered: the backlog stays queued, and all of it arrives once it reads again', async () => {
    const slow = await startHarness();
    try {
      await slow.broker.createNamespace('n');
      await slow.broker.createTopic('n', 't', 1);
      const payload = Buffer.from(JSON.stringify('z'.repeat(8 * 1024)));
      const total = 8_000; // ~64 MiB in all, far more than socket buffers hold
      // A reader that counts events as they stream by, but can stop reading.
      let received = 0;
      let tail = '';
      const socket = connect(slow.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        const text = tail + d;
        received += text.split('event: message').length - 1;
        // 13 chars: a split match fits, a whole one (14 chars) cannot be counted twice.
        tail = text.slice(-13);
      });
      socket.write('GET /v1/namespaces/n/topics/t/queues/0/subscribe?auto_ack=true HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => setTimeout(r, 100));
      socket.pause();
      for (let i = 0; i < total; i++) await slow.broker.publish('n', 't', payload);
      // Let the server push what it can into the stalled connection.
      await new Promise((r) => setTimeout(r, 500));
      const pendingWhileStalled = slow.broker.stats().pending;
      const pushed = total - pendingWhileStalled;
      // Socket buffers on loopback hold a few MiB; the server adds at most
      // its high-water mark. Far from the 64 MiB published.
      expect(pushed * payload.length).toBeLessThan(24 * 1024 * 1024);
      expect(pendingWhileStalled).toBeGreaterThan(total / 2);
      socket.resume();
      await eventually(() => received === total, 20_000, `all ${total} messages (got ${received})`);
      expect(slow.broker.stats().pending).toBe(0);
      socket.destroy();
    } finally {
      await slow.stop();
    }
  });
});
