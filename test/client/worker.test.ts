/**
 * The client connect() returns, its worker loop and its iterator
 * (docs/CLIENT.md), against a real broker on each protocol the URL picks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, parseUrl } from '../../src/client/connect.js';
import type { Client } from '../../src/client/client.js';
import { ClientError, type ClientTopicStats } from '../../src/client/types.js';
import { DoNotRetry, type Job, RetryLater, type WorkerOptions } from '../../src/client/worker.js';
import { type Running, startBroker } from '../cli/harness.js';

let b: Running;
beforeAll(async () => {
  // An in-flight message a closing stream never read comes back at its ack deadline.
  b = await startBroker({ ackTimeoutMs: 5_000 });
});
afterAll(async () => {
  await b.stop();
});

const URLS: [string, () => string][] = [
  ['tcp protobuf', () => `tcp://127.0.0.1:${b.ports.tcp}`],
  ['tcp json', () => `tcp://127.0.0.1:${b.ports.tcp}?encoding=json`],
  ['http', () => `http://127.0.0.1:${b.ports.http}`],
  ['grpc', () => `grpc://127.0.0.1:${b.ports.grpc}`],
];

function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() - start > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

/** The topic's stats once `ok` holds of them, or after 8 s (given-back messages come back after a short delay). */
async function statsOnce(c: Client, ns: string, topic: string, ok: (s: ClientTopicStats) => boolean): Promise<ClientTopicStats> {
  let stats = await c.topicStats(ns, topic);
  for (let i = 0; i < 400 && !ok(stats); i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = await c.topicStats(ns, topic);
  }
  return stats;
}

async function publishMany(c: Client, ns: string, topic: string, n: number, body: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    const entries = [];
    for (let j = i; j < Math.min(n, i + 500); j++) entries.push({ payload: JSON.stringify(body(j)) });
    const r = await c.publishBatch(ns, topic, entries, 'atomic');
    expect(r.every((x) => x.ok)).toBe(true);
  }
}

describe.each(URLS)('client over %s', (name, url) => {
  const ns = `w-${name.replace(' ', '-')}`;
  let c: Client;
  beforeAll(async () => {
    c = await connect(url());
    await c.createNamespace(ns);
  });
  afterAll(async () => {
    await c.close();
  });

  it('a worker with concurrency 16 processes 10,000 messages, each acked exactly once; a failing one is retried, then dead-lettered', async () => {
    await c.createTopic(ns, 'bulk', 4);
    await c.setTopicPolicy(ns, 'bulk', { maxRetries: 2, retryBaseMs: 1, retryCapMs: 5 });
    const N = 10_000;
    const FAILING = new Set([7, 4242, 9999]);
    await publishMany(c, ns, 'bulk', N, (i) => ({ i }));
    const calls = new Map<number, number>();
    let running = 0;
    let maxRunning = 0;
    const w = c.worker<{ i: number }>(
      ns,
      'bulk',
      async (job) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const { i } = job.json();
        calls.set(i, (calls.get(i) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
        running--;
        if (FAILING.has(i)) throw new Error(`bad message ${i}`);
      },
      { concurrency: 16 },
    );
    const failed: [number, string][] = [];
    w.on('failed', (job: Job<{ i: number }>, _err: Error, outcome: string) => failed.push([job.json().i, outcome]));
    const errors: Error[] = [];
    w.on('error', (e: Error) => errors.push(e));
    await w.ready;
    await until(() => calls.size === N && failed.length === FAILING.size * 3, 'every message handled');
    await until(() => w.active === 0, 'the handlers to finish');
    // the acks of the last turn
    await until(() => false, 'settle', 200).catch(() => undefined);
    const stats = await c.topicStats(ns, 'bulk');
    await w.close();
    expect(errors).toEqual([]);
    expect(maxRunning).toBeLessThanOrEqual(16);
    expect(maxRunning).toBeGreaterThan(1);
    for (const [i, n] of calls) expect(n, `message ${i}`).toBe(FAILING.has(i) ? 3 : 1);
    expect(stats.acked).toBe(N - FAILING.size);
    expect(stats.pending).toBe(0);
    expect(stats.inFlight).toBe(0);
    expect(stats.dlqDepth).toBe(FAILING.size);
    // two retries, then the dead-letter queue, as the policy says
    expect(failed.filter(([, o]) => o === 'retried').length).toBe(FAILING.size * 2);
    expect(failed.filter(([, o]) => o === 'dead-lettered').map(([i]) => i).sort((a, b) => a - b)).toEqual([...FAILING].sort((a, b) => a - b));
  }, 60_000);

  it('DoNotRetry sends a message straight to the dead-letter queue with reason "rejected"; RetryLater waits the delay it names', async () => {
    await c.createTopic(ns, 'ctl', 1);
    await c.setTopicPolicy(ns, 'ctl', { maxRetries: 5 });
    await c.publish(ns, 'ctl', JSON.stringify('poison'));
    await c.publish(ns, 'ctl', JSON.stringify('later'));
    const seen: [string, number][] = [];
    const w = c.worker<string>(ns, 'ctl', (job) => {
      seen.push([job.json(), Date.now()]);
      if (job.json() === 'poison') throw new DoNotRetry('cannot parse');
      if (job.json() === 'later' && job.deliveryCount === 1) throw new RetryLater(300);
    });
    await until(() => seen.length === 3, 'poison once, later twice');
    await w.close();
    expect(seen.filter(([t]) => t === 'poison').length).toBe(1);
    const later = seen.filter(([t]) => t === 'later').map(([, at]) => at);
    expect(later[1]! - later[0]!).toBeGreaterThanOrEqual(250);
    const dead = await c.consumeDlq(ns, 'ctl', { autoAck: true });
    expect(dead.map((m) => JSON.parse(Buffer.from(m.payload).toString()))).toEqual(['poison']);
    expect(dead[0]!.headers['_dlq_reason']).toBe('rejected');
    const stats = await c.topicStats(ns, 'ctl');
    expect(stats.acked).toBe(1);
  }, 30_000);

  it('close() stops taking messages, waits for the running handlers and gives the rest back at once', async () => {
    await c.createTopic(ns, 'stop', 1);
    await publishMany(c, ns, 'stop', 50, (i) => i);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    let finished = 0;
    const w = c.worker(
      ns,
      'stop',
      async () => {
        started++;
        await gate;
        finished++;
      },
      { concurrency: 4, prefetch: 10 },
    );
    await until(() => started === 4, 'four handlers running');
    const closing = w.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toBe(4);
    expect(started).toBe(4);
    const stats = await statsOnce(c, ns, 'stop', (s) => s.pending === 46);
    expect(stats.acked).toBe(4);
    expect(stats.inFlight).toBe(0);
    expect(stats.pending).toBe(46);
  }, 30_000);

  it('messages() yields each message to a for-await loop; break gives the unread ones back', async () => {
    await c.createTopic(ns, 'iter', 2);
    await publishMany(c, ns, 'iter', 20, (i) => i);
    const got: number[] = [];
    for await (const m of c.messages<number>(ns, 'iter', { prefetch: 4 })) {
      got.push(m.json());
      await m.ack();
      if (got.length === 12) break;
    }
    expect(new Set(got).size).toBe(12);
    // Given back at once; one the stream carried but the loop never read, at its ack deadline.
    const stats = await statsOnce(c, ns, 'iter', (s) => s.pending === 8);
    expect(stats.acked).toBe(12);
    expect(stats.inFlight).toBe(0);
    expect(stats.pending).toBe(8);
  }, 30_000);

  // The worker's timer is the same on every protocol (renewLease itself is tested per front): one run is enough.
  it.runIf(name === 'tcp protobuf')('renewLease keeps a long handler\'s message in flight past its ack deadline; without it the message is delivered again', async () => {
    // The broker's ack timeout in this file is 5 s; the handlers take 7 s.
    const run = async (topic: string, renewLease: WorkerOptions['renewLease']) => {
      await c.createTopic(ns, topic, 1);
      await c.publish(ns, topic, JSON.stringify('slow'));
      let calls = 0;
      const w = c.worker(
        ns,
        topic,
        async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 7_000));
        },
        { renewLease, concurrency: 2 },
      );
      await until(() => calls === 1, 'the first delivery');
      await new Promise((r) => setTimeout(r, 7_500));
      await w.close();
      return { calls, stats: await c.topicStats(ns, topic) };
    };
    const [renewed, plain] = await Promise.all([run('long', { everyMs: 1_000, extendMs: 5_000 }), run('long-plain', false)]);
    expect(renewed.calls).toBe(1);
    expect(renewed.stats.redelivered).toBe(0);
    expect(renewed.stats.acked).toBe(1);
    expect(plain.calls).toBe(2);
    expect(plain.stats.redelivered).toBe(1);
  }, 30_000);

  it('a worker on a topic that does not exist fails `ready` with NOT_FOUND naming it, and reports it as an error event', async () => {
    const w = c.worker(ns, 'nope', () => undefined);
    const errors: Error[] = [];
    w.on('error', (e: Error) => errors.push(e));
    await expect(w.ready).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`${ns}/nope`) });
    expect(errors.length).toBe(1);
  });
});

describe('connect(url)', () => {
  it('reads the scheme, host, port and encoding; a port left out is the front default', () => {
    expect(parseUrl('tcp://h:1')).toMatchObject({ protocol: 'tcp', host: 'h', port: 1, tls: false, encoding: 'protobuf' });
    expect(parseUrl('tls://h')).toMatchObject({ protocol: 'tcp', port: 7070, tls: true });
    expect(parseUrl('tcp://h?encoding=json')).toMatchObject({ encoding: 'json' });
    expect(parseUrl('https://h')).toMatchObject({ protocol: 'http', port: 8080, tls: true });
    expect(parseUrl('grpcs://[::1]:5')).toMatchObject({ protocol: 'grpc', host: '::1', port: 5, tls: true });
  });

  it('refuses what it cannot read, naming the accepted forms', () => {
    expect(() => parseUrl('localhost:7070')).toThrow(/unknown scheme 'localhost:'.*tcp, tls, http, https, grpc or grpcs/);
    expect(() => parseUrl('amqp://h')).toThrow(/unknown scheme 'amqp:'/);
    expect(() => parseUrl('http://h?encoding=json')).toThrow(/encoding applies to tcp/);
    expect(() => parseUrl('not a url')).toThrow(/is not a URL/);
  });

  it('a broker that is not there fails at connect, naming the URL and what to check', async () => {
    const dead = `tcp://127.0.0.1:1`;
    const err = await connect(dead, { reconnect: false, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).message).toContain('tcp://127.0.0.1:1');
    expect((err as ClientError).message).toMatch(/no broker listens there: start one/);
    expect((err as ClientError).retryable).toBe(true);
  });

  it('takes MQLITE_URL when no URL is given', async () => {
    const old = process.env['MQLITE_URL'];
    process.env['MQLITE_URL'] = `http://127.0.0.1:${b.ports.http}`;
    try {
      const c = await connect();
      expect(c.endpoint.protocol).toBe('http');
      expect(Array.isArray(await c.listNamespaces())).toBe(true);
      await c.close();
      await expect(c.listNamespaces()).rejects.toMatchObject({ code: 'CLOSED' });
    } finally {
      if (old === undefined) delete process.env['MQLITE_URL'];
      else process.env['MQLITE_URL'] = old;
    }
  });
});
