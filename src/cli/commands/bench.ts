/**
 * `mqlite-cli bench`, in the manner of `nats bench`: N publishers (each its
 * own client, a window of requests in flight; over http and grpc the
 * clients share the runtime's connection pool) and M auto-ack
 * subscribers on a fresh topic; prints publish and consume throughput and
 * latency percentiles. Publish latency is the request's round trip; consume
 * latency is from the publish call to the delivery, read from a send time
 * carried at the head of each payload (same process, same clock).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClientError, type ClientMessage, type ClientSubscription, type MqliteClient } from '../../client/types.js';
import type { Ctx } from '../context.js';
import { CommandFailure, UsageError } from '../errors.js';
import { Progress } from '../progress.js';
import { endpointOf, hostPort, openClient, type Endpoint } from '../session.js';

export interface BenchOptions {
  msgs: number;
  size: number;
  pub: number;
  sub: number;
  queues?: number;
  window: number;
  namespace: string;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface PhaseResult {
  clients: number;
  msgs: number;
  seconds: number;
  msgs_per_s: number;
  mb_per_s: number;
  latency_ms: LatencySummary | null;
}

export interface BenchResult {
  proto: string;
  address: string;
  msgs: number;
  size: number;
  queues: number;
  window: number;
  publish: PhaseResult;
  consume: PhaseResult | null;
}

/** Smallest payload that can carry its send time ("<ms> x"). */
const MIN_STAMPED_SIZE = 16;
/** No message for this long while subscribers still expect some: the run failed. */
const DEFAULT_STALL_MS = 10_000;

/** Latency percentiles (nearest rank) of the first `n` samples, in ms rounded to µs. */
export function percentiles(samples: Float64Array, n: number): LatencySummary | null {
  if (n === 0) return null;
  const sorted = samples.subarray(0, n).sort();
  const at = (p: number): number => Math.round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]! * 1000) / 1000;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

function phase(clients: number, msgs: number, seconds: number, size: number, latency: LatencySummary | null): PhaseResult {
  const rate = seconds > 0 ? msgs / seconds : 0;
  return {
    clients,
    msgs,
    seconds: Math.round(seconds * 1000) / 1000,
    msgs_per_s: Math.round(rate),
    mb_per_s: Math.round(((rate * size) / 1e6) * 100) / 100,
    latency_ms: latency,
  };
}

/** A payload of exactly `size` bytes starting with the send time, never a JSON document (so JSON fronts keep it as a string). */
function stampedPayload(size: number, filler: string): string {
  const stamp = performance.now().toFixed(3) + ' ';
  return stamp + filler.slice(0, size - stamp.length);
}

/** The send time at the head of a payload; JSON fronts hand it back as a quoted string. */
function sentAt(payload: Uint8Array): number | undefined {
  const head = Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.byteLength, 24)).toString('latin1');
  const m = /^"?(\d+\.\d+) /.exec(head);
  return m ? Number(m[1]) : undefined;
}

async function ignoreErrors(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch {
    // Cleanup after a run: the outcome is already decided.
  }
}

export async function bench(ctx: Ctx, opts: BenchOptions): Promise<void> {
  if (opts.pub < 1) throw new UsageError('--pub must be at least 1');
  const e: Endpoint = endpointOf(ctx.g);
  const queues = opts.queues ?? Math.max(1, opts.sub);
  const stamped = opts.size >= MIN_STAMPED_SIZE;
  const asText = e.proto === 'http' || e.proto === 'tcp-json';
  const filler = 'x'.repeat(opts.size);
  const fixedPayload = asText ? filler : Buffer.from(filler);
  const topic = `bench-${randomBytes(4).toString('hex')}`;
  const ns = opts.namespace;

  const admin = await ctx.client();
  let createdNs = false;
  try {
    await admin.createNamespace(ns);
    createdNs = true;
  } catch (err) {
    if (!(err instanceof ClientError && err.code === 'ALREADY_EXISTS')) throw err;
  }
  const clients: MqliteClient[] = [];
  const subscriptions: ClientSubscription[] = [];
  let aborted: Error | undefined;
  const progress = new Progress(ctx.session.io.stderr, ctx.session.io.stderr.isTTY === true && !ctx.out.json);
  const unregister = ctx.session.onInterrupt(() => (aborted ??= new CommandFailure('interrupted', 'INTERRUPTED')));
  try {
    await admin.createTopic(ns, topic, queues);

    // Subscribers first, so every message published is pushed to one of them.
    const consumeLatency = new Float64Array(opts.msgs);
    let received = 0;
    let stampedReceived = 0;
    let lastReceiveAt = 0;
    let firstPublishAt = 0;
    let allReceived!: () => void;
    const receivedAll = new Promise<void>((resolve) => (allReceived = resolve));
    const onMessage = (m: ClientMessage): void => {
      if (m.id.startsWith('_resize_')) return;
      const now = performance.now();
      const sent = stamped ? sentAt(m.payload) : undefined;
      if (sent !== undefined && stampedReceived < consumeLatency.length) consumeLatency[stampedReceived++] = now - sent;
      lastReceiveAt = now;
      if (++received >= opts.msgs) allReceived();
    };
    for (let i = 0; i < opts.sub; i++) {
      const c = await openClient(e);
      clients.push(c);
      subscriptions.push(
        await c.subscribe(ns, topic, i % queues, {
          autoAck: true,
          onMessage,
          onEnd: (err) => {
            if (err) aborted ??= err;
          },
        }),
      );
    }
    const publishers: MqliteClient[] = [];
    for (let i = 0; i < opts.pub; i++) {
      const c = await openClient(e);
      clients.push(c);
      publishers.push(c);
    }

    const publishLatency = new Float64Array(opts.msgs);
    let published = 0;
    let sent = 0;
    const draw = (force = false): void =>
      progress.update(
        opts.sub > 0
          ? [
              { label: 'pub', done: published, total: opts.msgs },
              { label: 'sub', done: received, total: opts.msgs },
            ]
          : [{ label: 'pub', done: published, total: opts.msgs }],
        force,
      );
    const ticker = setInterval(() => draw(), 100);
    try {
      const publishLoop = async (client: MqliteClient, count: number): Promise<void> => {
        const lane = async (): Promise<void> => {
          while (sent < opts.msgs && count > 0 && aborted === undefined) {
            count--;
            sent++;
            const payload = stamped ? stampedPayload(opts.size, filler) : fixedPayload;
            const t0 = performance.now();
            try {
              await client.publish(ns, topic, payload);
            } catch (err) {
              aborted ??= err as Error;
              throw err;
            }
            publishLatency[published++] = performance.now() - t0;
          }
        };
        await Promise.all(Array.from({ length: opts.window }, lane));
      };
      firstPublishAt = performance.now();
      const share = Math.floor(opts.msgs / opts.pub);
      await Promise.all(publishers.map((c, i) => publishLoop(c, share + (i < opts.msgs % opts.pub ? 1 : 0))));
      const publishSeconds = (performance.now() - firstPublishAt) / 1000;
      draw(true);

      let consume: PhaseResult | null = null;
      if (opts.sub > 0 && aborted === undefined) {
        // Wait for the stragglers, failing only when deliveries stop coming.
        const stallMs = ctx.g.timeout ?? DEFAULT_STALL_MS;
        const waitFrom = performance.now();
        await new Promise<void>((resolve) => {
          const check = setInterval(() => {
            if (aborted !== undefined || performance.now() - Math.max(lastReceiveAt, waitFrom) > stallMs) {
              clearInterval(check);
              resolve();
            }
          }, 50);
          void receivedAll.then(() => {
            clearInterval(check);
            resolve();
          });
        });
        if (aborted === undefined && received < opts.msgs) {
          throw new CommandFailure(`subscribers received ${received} of ${opts.msgs} messages, then nothing for ${stallMs} ms`, 'STALLED');
        }
        consume = phase(opts.sub, received, (lastReceiveAt - firstPublishAt) / 1000, opts.size, percentiles(consumeLatency, stampedReceived));
      }
      if (aborted !== undefined) throw aborted;
      const result: BenchResult = {
        proto: e.proto,
        address: hostPort(e.host, e.port),
        msgs: opts.msgs,
        size: opts.size,
        queues,
        window: opts.window,
        publish: phase(opts.pub, published, publishSeconds, opts.size, percentiles(publishLatency, published)),
        consume,
      };
      draw(true);
      progress.end();
      printResult(ctx, result, stamped);
    } finally {
      clearInterval(ticker);
      progress.end();
    }
  } finally {
    unregister();
    await Promise.all(subscriptions.map((s) => ignoreErrors(s.close())));
    await Promise.all(clients.map((c) => ignoreErrors(c.close())));
    await ignoreErrors(admin.deleteTopic(ns, topic));
    if (createdNs) await ignoreErrors(admin.deleteNamespace(ns));
  }
}

function printResult(ctx: Ctx, r: BenchResult, stamped: boolean): void {
  if (ctx.out.json) return ctx.out.jsonResult(r);
  const o = ctx.out;
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  o.line(
    `${o.paint('bold', 'mqlite bench')} ${r.proto} ${r.address}: ${r.msgs} msgs of ${r.size} B, ` +
      `${plural(r.publish.clients, 'publisher')} (window ${r.window}), ${plural(r.consume?.clients ?? 0, 'subscriber')}, ${plural(r.queues, 'queue')}`,
  );
  const ms = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(3));
  const row = (name: string, p: PhaseResult): string[] => [
    name,
    p.msgs_per_s.toLocaleString('en-US'),
    p.mb_per_s.toFixed(2),
    ms(p.latency_ms?.p50),
    ms(p.latency_ms?.p90),
    ms(p.latency_ms?.p99),
    ms(p.latency_ms?.max),
  ];
  const rows = [row('publish', r.publish)];
  if (r.consume) rows.push(row('consume', r.consume));
  o.table(
    [
      { header: '' },
      { header: 'MSGS/S', align: 'right' },
      { header: 'MB/S', align: 'right' },
      { header: 'P50 MS', align: 'right' },
      { header: 'P90 MS', align: 'right' },
      { header: 'P99 MS', align: 'right' },
      { header: 'MAX MS', align: 'right' },
    ],
    rows,
    { alwaysHeader: true },
  );
  o.note(
    'latency: publish = request round trip; consume = ' +
      (stamped ? 'from the publish call to the delivery' : `not measured (payloads under ${MIN_STAMPED_SIZE} B carry no send time)`),
  );
}
