/**
 * A mixed load over the three fronts, shared by `npm run soak` and the
 * shutdown-under-load test: publishers (TCP JSON and protobuf, HTTP, gRPC),
 * push subscribers that ack (TCP JSON and protobuf, SSE, gRPC Subscribe) and
 * TCP consumers that poll and ack. Every message carries its sequence number
 * and send time in headers (`soak-seq`, `soak-sent`), so that each delivery
 * is matched to its publish whatever front carried either; the Tracker keeps
 * what the broker answered for every sequence number.
 */
import { GrpcClient } from '../../src/client/grpc/index.js';
import { HttpClient } from '../../src/client/http/index.js';
import { TcpClient, type TcpSubscription } from '../../src/client/tcp/index.js';
import type { ClientMessage, ClientSubscription, MqliteClient } from '../../src/client/types.js';
import { ClientError } from '../../src/client/types.js';
import { LatencyHistogram } from './histogram.js';

export interface Endpoints {
  host: string;
  tcp: number;
  http: number;
  grpc: number;
}

export const PUBLISH_KINDS = ['tcp-json', 'tcp-pb', 'http', 'grpc'] as const;
export type PublishKind = (typeof PUBLISH_KINDS)[number];
export type ReceiveKind = 'tcp-json-sub' | 'tcp-pb-sub' | 'sse' | 'grpc-sub' | 'tcp-pull';

export interface WorkloadPlan {
  namespace: string;
  /** Topic read by the push subscribers. */
  pushTopic: string;
  pushQueues: number;
  /** Topic read by the polling consumers (none when tcpConsumers is 0). */
  pullTopic: string;
  pullQueues: number;
  /** Share of publishes that go to the pull topic (0..1). */
  pullShare: number;
  /** TCP publisher connections, half JSON, half protobuf. */
  tcpPublishers: number;
  /** TCP subscriber connections, half JSON, half protobuf. */
  tcpSubscribers: number;
  /** TCP connections that poll `consume` and ack. */
  tcpConsumers: number;
  sseSubscribers: number;
  grpcSubscribers: number;
  httpPublishers: number;
  grpcPublishers: number;
  /** Publishes in flight per publisher. */
  window: number;
  payloadBytes: number;
  /** Wait of a consumer that found its queue empty. */
  pollMs: number;
  /** Reopen a subscription the server ended (soak: yes; shutdown test: no). */
  resubscribe: boolean;
  /** Client request time limit: a reply later than this counts as an error. */
  timeoutMs: number;
}

const SEQ = 'soak-seq';
const SENT = 'soak-sent';
const CHUNK = 1 << 16;
const ACK_DELAY_MS = 20;
const CONNECT_CONCURRENCY = 64;

const OK = 1;
const FAILED = 2;
const ACKED = 4;
const ACK_SENT = 8;

/** Milliseconds on a clock shared by every part of this process. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** What happened to every message: answers, deliveries, acks, latencies, errors. */
export class Tracker {
  private readonly state: Uint8Array[] = [];
  private readonly deliveries: Uint8Array[] = [];
  next = 0;
  published = 0;
  publishedOk = 0;
  publishFailed = 0;
  /** Messages answered ok that were delivered at least once. */
  okDelivered = 0;
  delivered = 0;
  firstDeliveries = 0;
  duplicates = 0;
  ackedOk = 0;
  readonly errors = new Map<string, number>();
  errorCount = 0;
  /** Publish send -> first delivery, for pushed and for polled deliveries; interval and whole run. */
  readonly push = { interval: new LatencyHistogram(), total: new LatencyHistogram() };
  readonly pull = { interval: new LatencyHistogram(), total: new LatencyHistogram() };
  /** Publish round trip (sent -> answered, ok or not), by publishing front. */
  readonly publishRtt = new Map<string, LatencyHistogram>();

  allocate(): number {
    const seq = this.next++;
    if ((seq & (CHUNK - 1)) === 0) {
      this.state.push(new Uint8Array(CHUNK));
      this.deliveries.push(new Uint8Array(CHUNK));
    }
    this.published++;
    return seq;
  }

  publishAnswered(seq: number, ok: boolean): void {
    const chunk = this.state[seq >>> 16]!;
    const i = seq & (CHUNK - 1);
    chunk[i]! |= ok ? OK : FAILED;
    if (!ok) {
      this.publishFailed++;
      return;
    }
    this.publishedOk++;
    if (this.deliveries[seq >>> 16]![i]! > 0) this.okDelivered++;
  }

  /** A delivery; false when the message is not one of ours. */
  deliver(msg: ClientMessage, pulled: boolean): number | undefined {
    const seqText = msg.headers[SEQ];
    if (seqText === undefined) return undefined;
    const seq = Number(seqText);
    if (!(seq >= 0 && seq < this.next)) return undefined;
    this.delivered++;
    const d = this.deliveries[seq >>> 16]!;
    const i = seq & (CHUNK - 1);
    if (d[i]! > 0) {
      this.duplicates++;
      if (d[i]! < 255) d[i]!++;
      return seq;
    }
    d[i] = 1;
    this.firstDeliveries++;
    if ((this.state[seq >>> 16]![i]! & OK) !== 0) this.okDelivered++;
    const latency = nowMs() - Number(msg.headers[SENT]);
    const h = pulled ? this.pull : this.push;
    h.interval.record(latency);
    h.total.record(latency);
    return seq;
  }

  acked(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const chunk = this.state[seq >>> 16]!;
      const i = seq & (CHUNK - 1);
      if ((chunk[i]! & ACKED) === 0) {
        chunk[i]! |= ACKED;
        this.ackedOk++;
      }
    }
  }

  /** An ack was sent for these (its answer may never come). */
  ackSending(seqs: readonly number[]): void {
    for (const seq of seqs) this.state[seq >>> 16]![seq & (CHUNK - 1)]! |= ACK_SENT;
  }

  error(kind: string, err: unknown): void {
    const code = err instanceof ClientError ? err.code : err instanceof Error ? err.name : 'ERROR';
    const key = `${kind}: ${code}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    this.errorCount++;
  }

  isOk(seq: number): boolean {
    return (this.state[seq >>> 16]![seq & (CHUNK - 1)]! & OK) !== 0;
  }

  isAcked(seq: number): boolean {
    return (this.state[seq >>> 16]![seq & (CHUNK - 1)]! & ACKED) !== 0;
  }

  wasAckSent(seq: number): boolean {
    return (this.state[seq >>> 16]![seq & (CHUNK - 1)]! & ACK_SENT) !== 0;
  }

  deliveryCount(seq: number): number {
    return this.deliveries[seq >>> 16]![seq & (CHUNK - 1)]!;
  }

  /** Sequences answered ok and never delivered (up to `limit` listed, all counted). */
  missing(limit: number): { count: number; first: number[] } {
    let count = 0;
    const first: number[] = [];
    for (let seq = 0; seq < this.next; seq++) {
      if (this.isOk(seq) && this.deliveryCount(seq) === 0) {
        count++;
        if (first.length < limit) first.push(seq);
      }
    }
    return { count, first };
  }

  /** Sequence numbers of a message delivered after a restart (from its headers). */
  static seqOf(msg: ClientMessage): number | undefined {
    const s = msg.headers[SEQ];
    return s === undefined ? undefined : Number(s);
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Publisher {
  inflight = 0;

  constructor(
    readonly kind: PublishKind,
    readonly client: MqliteClient,
    private readonly payload: Uint8Array | string,
    private readonly tracker: Tracker,
    private readonly onSettled: () => void,
  ) {
    let h = tracker.publishRtt.get(kind);
    if (!h) tracker.publishRtt.set(kind, (h = new LatencyHistogram()));
    this.rtt = h;
  }

  private readonly rtt: LatencyHistogram;

  publish(namespace: string, topic: string): void {
    const t = this.tracker;
    const seq = t.allocate();
    this.inflight++;
    const sent = nowMs();
    const headers = { [SEQ]: String(seq), [SENT]: sent.toFixed(3) };
    this.client.publish(namespace, topic, this.payload, { headers }).then(
      () => {
        this.inflight--;
        this.rtt.record(nowMs() - sent);
        t.publishAnswered(seq, true);
        this.onSettled();
      },
      (err: unknown) => {
        this.inflight--;
        this.rtt.record(nowMs() - sent);
        t.publishAnswered(seq, false);
        t.error(`${this.kind} publish`, err);
        this.onSettled();
      },
    );
  }
}

/**
 * Acks of one receiver, sent together a moment after the first of them,
 * one ack request in flight at a time (what comes meanwhile waits for it).
 */
class AckBatcher {
  private ids: string[] = [];
  private seqs: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  inflight = 0;

  constructor(
    private readonly kind: ReceiveKind,
    private readonly tracker: Tracker,
    private send: ((ids: string[]) => Promise<void>) | undefined,
    private readonly onSettled: () => void,
  ) {}

  setSender(send: (ids: string[]) => Promise<void>): void {
    this.send = send;
  }

  add(id: string, seq: number): void {
    this.ids.push(id);
    this.seqs.push(seq);
    this.timer ??= setTimeout(() => this.flush(), ACK_DELAY_MS);
  }

  flush(): void {
    this.timer = undefined;
    if (this.ids.length === 0 || this.inflight > 0) return;
    // A subscription whose handle is not there yet (pushes can precede its resolution).
    if (this.send === undefined) {
      this.timer = setTimeout(() => this.flush(), ACK_DELAY_MS);
      return;
    }
    const ids = this.ids;
    const seqs = this.seqs;
    this.ids = [];
    this.seqs = [];
    this.inflight++;
    this.tracker.ackSending(seqs);
    this.send(ids).then(
      () => {
        this.inflight--;
        this.tracker.acked(seqs);
        this.flush();
        this.onSettled();
      },
      (err: unknown) => {
        this.inflight--;
        this.tracker.error(`${this.kind} ack`, err);
        this.flush();
        this.onSettled();
      },
    );
  }

  /** Drops what was not sent (the connection is gone). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ids = [];
    this.seqs = [];
  }
}

interface Receiver {
  kind: ReceiveKind;
  queueId: number;
  acks: AckBatcher;
  subscription?: ClientSubscription;
  /** SSE: the client that sends its acks. */
  acker?: HttpClient;
}

export class Workload {
  readonly tracker = new Tracker();
  private readonly publishers = new Map<PublishKind, Publisher[]>();
  private readonly rr = new Map<PublishKind, number>();
  private readonly receivers: Receiver[] = [];
  private readonly clients: { close(): Promise<void> }[] = [];
  private readonly consumerLoops: Promise<void>[] = [];
  private readonly issued = new Map<PublishKind, number>();
  private pubTimer: NodeJS.Timeout | undefined;
  private pubStarted = 0;
  private pullCounter = 0;
  /** Publishes the generator could not send in time (every window full), dropped rather than sent in a burst. */
  skipped = 0;
  stopped = false;
  private idleWaiters: (() => void)[] = [];

  readonly plan: WorkloadPlan;

  /**
   * Queue counts are cut to the number of readers: a queue nobody reads
   * keeps a last single message for good (work stealing moves the tail
   * half of a sibling only when it holds at least 2, docs/DESIGN.md).
   */
  constructor(
    readonly endpoints: Endpoints,
    plan: WorkloadPlan,
  ) {
    const pushReaders = plan.tcpSubscribers + plan.sseSubscribers + plan.grpcSubscribers;
    if (pushReaders === 0) throw new Error('a workload needs at least one push subscriber');
    this.plan = {
      ...plan,
      pushQueues: Math.min(plan.pushQueues, pushReaders),
      pullQueues: Math.max(1, Math.min(plan.pullQueues, plan.tcpConsumers)),
    };
  }

  /** Creates the namespace and topics (through HTTP). */
  async setup(): Promise<void> {
    const admin = new HttpClient({ baseUrl: `http://${this.endpoints.host}:${this.endpoints.http}`, timeoutMs: this.plan.timeoutMs });
    try {
      await admin.createNamespace(this.plan.namespace);
      await admin.createTopic(this.plan.namespace, this.plan.pushTopic, this.plan.pushQueues);
      if (this.plan.tcpConsumers > 0) await admin.createTopic(this.plan.namespace, this.plan.pullTopic, this.plan.pullQueues);
    } finally {
      await admin.close();
    }
  }

  /** Deletes the namespace (and its topics) that setup() created. */
  async teardown(): Promise<void> {
    const admin = new HttpClient({ baseUrl: `http://${this.endpoints.host}:${this.endpoints.http}`, timeoutMs: this.plan.timeoutMs });
    try {
      await admin.deleteNamespace(this.plan.namespace);
    } finally {
      await admin.close();
    }
  }

  /** Opens every connection and subscription; rejects on the first failure, naming the kind. */
  async connect(): Promise<void> {
    const { host } = this.endpoints;
    const p = this.plan;
    const text = payloadText(p.payloadBytes);
    const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
    const settled = (): void => this.maybeIdle();
    const tcp = (encoding: 'json' | 'protobuf') => TcpClient.connect({ host, port: this.endpoints.tcp, encoding, timeoutMs: p.timeoutMs });
    const keep = <C extends { close(): Promise<void> }>(c: C): C => {
      this.clients.push(c);
      return c;
    };
    const add = (kind: PublishKind, client: MqliteClient, payload: Uint8Array | string): void => {
      const list = this.publishers.get(kind) ?? [];
      list.push(new Publisher(kind, client, payload, this.tracker, settled));
      this.publishers.set(kind, list);
    };
    await step('tcp publishers', () =>
      mapLimit(range(p.tcpPublishers), CONNECT_CONCURRENCY, async (i) => {
        const json = i % 2 === 0;
        add(json ? 'tcp-json' : 'tcp-pb', keep(await tcp(json ? 'json' : 'protobuf')), json ? text : bytes);
      }),
    );
    await step('http publishers', () =>
      mapLimit(range(p.httpPublishers), CONNECT_CONCURRENCY, async () => {
        add('http', keep(new HttpClient({ baseUrl: `http://${host}:${this.endpoints.http}`, timeoutMs: p.timeoutMs, transport: 'raw' })), text);
      }),
    );
    await step('grpc publishers', () =>
      mapLimit(range(p.grpcPublishers), CONNECT_CONCURRENCY, async () => {
        add('grpc', keep(new GrpcClient({ host, port: this.endpoints.grpc, timeoutMs: p.timeoutMs })), bytes);
      }),
    );

    // Push subscribers: kinds interleaved over the queues, so every queue has a mix.
    const kinds: ReceiveKind[] = [
      ...range(p.tcpSubscribers).map((i): ReceiveKind => (i % 2 === 0 ? 'tcp-json-sub' : 'tcp-pb-sub')),
      ...range(p.sseSubscribers).map((): ReceiveKind => 'sse'),
      ...range(p.grpcSubscribers).map((): ReceiveKind => 'grpc-sub'),
    ];
    // Subscriptions open their own connections; a publisher's client opens them (no extra connection).
    const factory = async (kind: PublishKind, encoding: 'json' | 'protobuf'): Promise<TcpClient> =>
      (this.publishers.get(kind)?.[0]?.client as TcpClient | undefined) ?? keep(await tcp(encoding));
    const factories = {
      json: p.tcpSubscribers > 0 ? await factory('tcp-json', 'json') : undefined,
      protobuf: p.tcpSubscribers > 1 ? await factory('tcp-pb', 'protobuf') : undefined,
    };
    const sse = p.sseSubscribers > 0 ? keep(new HttpClient({ baseUrl: `http://${host}:${this.endpoints.http}`, timeoutMs: p.timeoutMs })) : undefined;
    await step('subscribers', () =>
      mapLimit(kinds, CONNECT_CONCURRENCY, async (kind, i) => {
        const r: Receiver = { kind, queueId: i % p.pushQueues, acks: new AckBatcher(kind, this.tracker, undefined, settled) };
        this.receivers.push(r);
        await this.subscribe(r, factories, sse);
      }),
    );
    await step('tcp consumers', () =>
      mapLimit(range(p.tcpConsumers), CONNECT_CONCURRENCY, async (i) => {
        const client = keep(await tcp(i % 2 === 0 ? 'json' : 'protobuf'));
        this.consumerLoops.push(this.consumeLoop(client, i % p.pullQueues));
      }),
    );
  }

  private async subscribe(r: Receiver, factories: { json?: TcpClient; protobuf?: TcpClient }, sse: HttpClient | undefined): Promise<void> {
    const { namespace, pushTopic } = this.plan;
    const t = this.tracker;
    const onMessage = (msg: ClientMessage): void => {
      const seq = t.deliver(msg, false);
      if (seq !== undefined) r.acks.add(msg.id, seq);
    };
    const onEnd = (err: ClientError | undefined): void => {
      r.acks.discard();
      if (this.stopped) return;
      t.error(`${r.kind} subscription ended`, err ?? new ClientError('CLOSED', 'closed'));
      if (this.plan.resubscribe) {
        setTimeout(() => {
          if (!this.stopped) this.subscribe(r, factories, sse).catch((e: unknown) => onEnd(e instanceof ClientError ? e : new ClientError('TRANSPORT', String(e))));
        }, 1000).unref();
      }
    };
    const opts = { autoAck: false, onMessage, onEnd };
    const q = r.queueId;
    switch (r.kind) {
      case 'tcp-json-sub':
      case 'tcp-pb-sub': {
        const factory = r.kind === 'tcp-json-sub' ? factories.json! : factories.protobuf!;
        const sub: TcpSubscription = await factory.subscribe(namespace, pushTopic, q, opts);
        r.subscription = sub;
        r.acks.setSender((ids) => sub.ack(ids));
        break;
      }
      case 'sse': {
        r.subscription = await sse!.subscribe(namespace, pushTopic, q, opts);
        // Its acks on a keep-alive connection of its own.
        if (!r.acker) {
          const acker = new HttpClient({ baseUrl: `http://${this.endpoints.host}:${this.endpoints.http}`, timeoutMs: this.plan.timeoutMs, transport: 'raw' });
          this.clients.push(acker);
          r.acker = acker;
          r.acks.setSender((ids) => acker.ack(namespace, pushTopic, q, ids));
        }
        break;
      }
      case 'grpc-sub': {
        // One HTTP/2 connection per stream, acks on the same connection.
        const client = new GrpcClient({ host: this.endpoints.host, port: this.endpoints.grpc, timeoutMs: this.plan.timeoutMs });
        try {
          r.subscription = await client.subscribe(namespace, pushTopic, q, opts);
        } catch (err) {
          await client.close();
          throw err;
        }
        this.clients.push(client);
        r.acks.setSender((ids) => client.ack(namespace, pushTopic, q, ids));
        break;
      }
      default:
        throw new Error(`not a push receiver: ${r.kind}`);
    }
  }

  private consumeInflight = 0;

  private async consumeLoop(client: TcpClient, queueId: number): Promise<void> {
    const { namespace, pullTopic, pollMs } = this.plan;
    const t = this.tracker;
    while (!this.stopped) {
      const got = await this.counted(client.consume(namespace, pullTopic, queueId, { batchSize: 16, autoAck: false }));
      if (!got.ok) {
        if (!this.stopped) t.error('tcp-pull consume', got.err);
        // A TCP client whose connection failed stays failed.
        if (got.err instanceof ClientError && got.err.code === 'TRANSPORT') return;
        await sleep(pollMs);
        continue;
      }
      const msgs = got.value;
      if (msgs.length === 0) {
        await sleep(pollMs * (0.5 + Math.random()));
        continue;
      }
      const ids: string[] = [];
      const seqs: number[] = [];
      for (const m of msgs) {
        const seq = t.deliver(m, true);
        ids.push(m.id);
        if (seq !== undefined) seqs.push(seq);
      }
      t.ackSending(seqs);
      const acked = await this.counted(client.ack(namespace, pullTopic, queueId, ids));
      if (acked.ok) t.acked(seqs);
      else if (!this.stopped) t.error('tcp-pull ack', acked.err);
    }
  }

  /** Awaits a request, counting it as outstanding meanwhile. */
  private async counted<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
    this.consumeInflight++;
    try {
      return { ok: true, value: await p };
    } catch (err) {
      return { ok: false, err };
    } finally {
      this.consumeInflight--;
      this.maybeIdle();
    }
  }

  /** Publishes `rate` messages per second in all, a quarter per publishing front kind. */
  startPublishing(rate: number): void {
    const kinds = PUBLISH_KINDS.filter((k) => (this.publishers.get(k)?.length ?? 0) > 0);
    if (kinds.length === 0) throw new Error('no publishers');
    const perKind = rate / kinds.length;
    this.pubStarted = performance.now();
    for (const k of kinds) this.issued.set(k, 0);
    this.pubTimer = setInterval(() => {
      const elapsed = (performance.now() - this.pubStarted) / 1000;
      for (const k of kinds) {
        let due = Math.floor(perKind * elapsed) - this.issued.get(k)!;
        // Behind by more than a second: drop the excess rather than send a burst.
        const cap = Math.max(1, Math.ceil(perKind));
        if (due > cap) {
          this.skipped += due - cap;
          this.issued.set(k, this.issued.get(k)! + due - cap);
          due = cap;
        }
        const sent = this.publishSome(k, due);
        this.issued.set(k, this.issued.get(k)! + sent);
      }
    }, 5);
  }

  private publishSome(kind: PublishKind, n: number): number {
    const list = this.publishers.get(kind)!;
    let start = this.rr.get(kind) ?? 0;
    let sent = 0;
    const p = this.plan;
    while (sent < n) {
      let found: Publisher | undefined;
      for (let j = 0; j < list.length; j++) {
        const pub = list[(start + j) % list.length]!;
        if (pub.inflight < p.window) {
          found = pub;
          start = (start + j + 1) % list.length;
          break;
        }
      }
      if (!found) break;
      const toPull = p.tcpConsumers > 0 && p.pullShare > 0 && (this.pullCounter += p.pullShare) >= 1;
      if (toPull) this.pullCounter -= 1;
      found.publish(p.namespace, toPull ? p.pullTopic : p.pushTopic);
      sent++;
    }
    this.rr.set(kind, start);
    return sent;
  }

  stopPublishing(): void {
    if (this.pubTimer) clearInterval(this.pubTimer);
    this.pubTimer = undefined;
  }

  /** Requests sent and not yet answered (publishes, acks, consumes). */
  outstanding(): number {
    let n = this.consumeInflight;
    for (const list of this.publishers.values()) for (const p of list) n += p.inflight;
    for (const r of this.receivers) n += r.acks.inflight;
    return n;
  }

  /** Sends acks still waiting for their batch. */
  flushAcks(): void {
    for (const r of this.receivers) r.acks.flush();
  }

  /** Resolves once nothing is outstanding. */
  idle(): Promise<void> {
    if (this.outstanding() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private maybeIdle(): void {
    if (this.idleWaiters.length === 0 || this.outstanding() !== 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Open subscriptions and connections on the client side. */
  counts(): { subscriptions: number; clients: number } {
    return { subscriptions: this.receivers.filter((r) => r.subscription).length, clients: this.clients.length };
  }

  /** Stops everything and closes every connection. */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopPublishing();
    for (const r of this.receivers) r.acks.discard();
    await Promise.allSettled(this.receivers.map((r) => r.subscription?.close()));
    await Promise.allSettled(this.clients.map((c) => c.close()));
    await Promise.allSettled(this.consumerLoops);
  }
}

/** A JSON document of about `bytes` bytes (every front carries it as is). */
function payloadText(bytes: number): string {
  const pad = Math.max(0, bytes - 10);
  return `{"pad":"${'x'.repeat(pad)}"}`;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`opening ${what}: ${(err as Error).message}`);
  }
}
