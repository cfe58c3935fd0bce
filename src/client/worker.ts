/**
 * Consumers built on push subscriptions (docs/CLIENT.md, "Workers" and
 * "Iterating"): a Worker runs a handler for every message of a topic's
 * queues with a bounded concurrency; `messages()` hands the same messages
 * to a `for await` loop.
 *
 * Both subscribe to each queue with `max_inflight` = the prefetch, so the
 * broker never has more than queues x prefetch of them in flight towards
 * this process (docs/PROTOCOL.md, "Subscribe"); the rest stay in their
 * queues for other consumers and for work stealing. Acks of one event-loop
 * turn go out as one request per queue.
 */
import { EventEmitter } from 'node:events';
import type { Client } from './client.js';
import { type ClientMessage, ClientError, type ClientSubscription, isResizeNotice } from './types.js';

/** Throw it from a handler to retry after `delayMs` instead of the topic's backoff. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(
    readonly delayMs: number,
    message = `retry in ${delayMs} ms`,
  ) {
    super(message);
  }
}

/** Throw it from a handler when retrying cannot help: the message goes straight to the dead-letter queue. */
export class DoNotRetry extends Error {
  override readonly name = 'DoNotRetry';
}

/** What happened to a message whose handler threw. */
export type Outcome = 'retried' | 'dead-lettered';

/** One message, with the calls that settle it. */
export class Job<T = unknown> implements ClientMessage {
  readonly id: string;
  readonly namespace: string;
  readonly topic: string;
  readonly queueId: number;
  readonly payload: Uint8Array;
  readonly timestamp: bigint;
  readonly headers: Record<string, string>;
  readonly deliveryCount: number;
  private settled = false;

  /** @internal */
  constructor(
    m: ClientMessage,
    private readonly owner: Consumer,
  ) {
    this.id = m.id;
    this.namespace = m.namespace;
    this.topic = m.topic;
    this.queueId = m.queueId;
    this.payload = m.payload;
    this.timestamp = m.timestamp;
    this.headers = m.headers;
    this.deliveryCount = m.deliveryCount;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return Buffer.from(this.payload.buffer, this.payload.byteOffset, this.payload.byteLength).toString('utf8');
  }

  /** The payload parsed as JSON (throws a SyntaxError when it is not JSON). */
  json(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Done with it: removed for good (batched with the other acks of this turn). */
  ack(): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    return this.owner.ack(this);
  }

  /**
   * Not done: back after `delayMs`, or the topic's backoff; `deadLetter`
   * sends it straight to the dead-letter queue.
   */
  async nack(opts: { delayMs?: number; deadLetter?: boolean } = {}): Promise<Outcome> {
    if (this.settled) return 'retried';
    this.settled = true;
    return this.owner.nack(this, opts);
  }

  /** Pushes the ack deadline to now + `extendMs`. */
  renew(extendMs: number): Promise<void> {
    return this.owner.renew(this, extendMs);
  }

  get isSettled(): boolean {
    return this.settled;
  }
}

export interface ConsumerOptions {
  /** The queues to consume; default all the topic's queues (and new ones after a resize). */
  queues?: readonly number[];
  /** Messages in flight per queue towards this process; default the concurrency (worker) or 16 (iterator). */
  prefetch?: number;
}

export interface WorkerOptions extends ConsumerOptions {
  /** Handlers running at once; default 1. */
  concurrency?: number;
  /**
   * Renews the lease of a message whose handler runs long: every `everyMs`
   * (default 10 s) the ack deadline moves to now + `extendMs` (default 30 s).
   * Off by default.
   */
  renewLease?: boolean | { everyMs?: number; extendMs?: number };
}

export type MessagesOptions = ConsumerOptions;

const GIVE_BACK_DELAY_MS = 250;

export type WorkerHandler<T> = (job: Job<T>) => unknown;

/** What Worker and the iterator share: subscriptions, batched acks, settling. */
export abstract class Consumer extends EventEmitter {
  protected readonly subs = new Map<number, ClientSubscription>();
  protected closing = false;
  private pendingAcks = new Map<number, { ids: string[]; done: Promise<void>; resolve(): void; reject(e: unknown): void }>();
  private flushScheduled = false;
  private allQueues: boolean;
  /** The queues subscribed or being subscribed. */
  private readonly wanted = new Set<number>();

  constructor(
    protected readonly client: Client,
    readonly namespace: string,
    readonly topic: string,
    protected readonly opts: ConsumerOptions,
    protected readonly prefetch: number,
  ) {
    super();
    this.allQueues = opts.queues === undefined;
  }

  /** Subscribes to the queues; rejects with the first refusal (topic not found, no permission). */
  protected async subscribeAll(): Promise<void> {
    let queues = this.opts.queues;
    if (queues === undefined) {
      const t = (await this.client.listTopics(this.namespace)).find((x) => x.name === this.topic);
      if (t === undefined) throw new ClientError('NOT_FOUND', `topic '${this.namespace}/${this.topic}' not found: create it first (mqlite-cli topic create)`);
      queues = Array.from({ length: t.queueCount }, (_, i) => i);
    }
    await Promise.all(queues.map((q) => this.subscribeQueue(q)));
  }

  private async subscribeQueue(queueId: number): Promise<void> {
    if (this.wanted.has(queueId) || this.closing) return;
    this.wanted.add(queueId);
    try {
      const sub = await this.client.subscribe(this.namespace, this.topic, queueId, {
        autoAck: false,
        maxInflight: this.prefetch,
        onMessage: (m) => this.onMessage(m),
        onEnd: (err) => this.onSubEnd(queueId, err),
      });
      if (this.closing) await sub.close();
      else this.subs.set(queueId, sub);
    } catch (err) {
      this.wanted.delete(queueId);
      throw err;
    }
  }

  private onMessage(m: ClientMessage): void {
    if (isResizeNotice(m)) {
      // A topic grown past our queues: take the new ones too (queues that
      // shrink away end their subscriptions by themselves).
      const count = Number(m.headers['_queue_count']);
      if (this.allQueues && !this.closing) {
        for (let q = 0; q < count; q++) {
          if (!this.wanted.has(q)) this.subscribeQueue(q).catch((err: unknown) => this.report(err));
        }
      }
      return;
    }
    if (this.closing) {
      // Arrived after close(): give it back now rather than at its ack deadline.
      void this.client.nack(this.namespace, this.topic, m.queueId, [m.id], { delayMs: GIVE_BACK_DELAY_MS }).catch(() => undefined);
      return;
    }
    this.received(new Job(m, this));
  }

  private onSubEnd(queueId: number, err: ClientError | undefined): void {
    this.subs.delete(queueId);
    this.wanted.delete(queueId);
    // A queue removed by a resize ends with NOT_FOUND: expected, not an error.
    if (err !== undefined && !this.closing && !(err.code === 'NOT_FOUND' && this.allQueues)) this.report(err);
    if (this.subs.size === 0 && this.wanted.size === 0 && !this.closing) this.ended(err);
  }

  /** A message arrived. */
  protected abstract received(job: Job<unknown>): void;
  /** Every subscription ended without close() (topic deleted, client closed). */
  protected abstract ended(err: ClientError | undefined): void;

  /** Reports a failure through `error` when someone listens; never throws. */
  protected report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else process.emitWarning(`mqlite consumer ${this.namespace}/${this.topic}: ${e.message}`, { code: 'MQLITE_CONSUMER' });
  }

  /** @internal batched: one ack request per queue per event-loop turn. */
  ack(job: Job<unknown>): Promise<void> {
    let batch = this.pendingAcks.get(job.queueId);
    if (batch === undefined) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { ids: [], done, resolve, reject };
      this.pendingAcks.set(job.queueId, batch);
    }
    batch.ids.push(job.id);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushAcks());
    }
    return batch.done;
  }

  private flushAcks(): void {
    this.flushScheduled = false;
    const batches = this.pendingAcks;
    this.pendingAcks = new Map();
    for (const [queueId, b] of batches) {
      this.client.ack(this.namespace, this.topic, queueId, b.ids).then(b.resolve, b.reject);
    }
  }

  /** @internal */
  async nack(job: Job<unknown>, opts: { delayMs?: number; deadLetter?: boolean }): Promise<Outcome> {
    const r = await this.client.nack(this.namespace, this.topic, job.queueId, [job.id], opts);
    return r.deadLettered > 0 ? 'dead-lettered' : 'retried';
  }

  /** @internal */
  renew(job: Job<unknown>, extendMs: number): Promise<void> {
    return this.client.renewLease(this.namespace, this.topic, job.queueId, [job.id], extendMs);
  }

  /** Stops the subscriptions: no new message arrives after this resolves. */
  protected async stopSubscriptions(): Promise<void> {
    this.closing = true;
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.allSettled(subs.map((s) => s.close()));
  }

  /**
   * Gives messages not handled back to their queues, after a short delay:
   * the broker may not have seen the subscription end yet (an SSE stream's
   * end reaches it with the socket's), and a message requeued at once
   * could be pushed to the closing stream and then wait out its ack
   * deadline.
   */
  protected giveBack(jobs: readonly Job<unknown>[]): Promise<unknown> {
    return Promise.allSettled(jobs.map((j) => j.nack({ delayMs: GIVE_BACK_DELAY_MS })));
  }
}

/**
 * Runs a handler for each message, `concurrency` at a time: ack when it
 * resolves; when it throws, nack with the topic's backoff (`RetryLater`:
 * the delay it names; `DoNotRetry`: straight to the dead-letter queue).
 *
 * Events: `completed` (job), `failed` (job, err, outcome), `error` (err: a
 * subscription, ack or nack that failed; the worker goes on), `closed`.
 */
export class Worker<T = unknown> extends Consumer {
  private readonly concurrency: number;
  private readonly renewEvery: number;
  private readonly renewBy: number;
  private readonly buffer: Job<T>[] = [];
  private head = 0;
  private running = 0;
  private idle: (() => void) | undefined;
  private closed: Promise<void> | undefined;
  /** Resolves once every queue is subscribed; rejects with the refusal (the worker is then closed). */
  readonly ready: Promise<void>;
  private markReady!: (err?: unknown) => void;

  /** @internal use client.worker() */
  constructor(
    client: Client,
    namespace: string,
    topic: string,
    private readonly handler: WorkerHandler<T>,
    opts: WorkerOptions,
  ) {
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ClientError('INVALID_ARGUMENT', `worker concurrency must be an integer >= 1, got ${concurrency}`);
    super(client, namespace, topic, opts, opts.prefetch ?? concurrency);
    this.concurrency = concurrency;
    const renew = opts.renewLease === true ? {} : opts.renewLease || undefined;
    this.renewEvery = renew ? (renew.everyMs ?? 10_000) : 0;
    this.renewBy = renew ? (renew.extendMs ?? 30_000) : 0;
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = (err) => (err === undefined ? resolve() : reject(err));
    });
    // A caller who never awaits `ready` still hears of a refusal through `error`.
    this.ready.catch(() => undefined);
  }

  /** @internal */
  start(): void {
    this.subscribeAll().then(
      () => this.markReady(),
      (err: unknown) => {
        this.report(err);
        this.markReady(err);
        void this.close();
      },
    );
  }

  /** Handlers running now. */
  get active(): number {
    return this.running;
  }

  protected received(job: Job<unknown>): void {
    this.buffer.push(job as Job<T>);
    this.pump();
  }

  protected ended(err: ClientError | undefined): void {
    if (err !== undefined) void this.close();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.head < this.buffer.length && !this.closing) {
      const job = this.buffer[this.head]!;
      this.buffer[this.head++] = undefined as unknown as Job<T>;
      if (this.head > 1024 && this.head * 2 > this.buffer.length) {
        this.buffer.splice(0, this.head);
        this.head = 0;
      }
      this.running++;
      void this.run(job);
    }
  }

  private async run(job: Job<T>): Promise<void> {
    const timer = this.renewEvery > 0 ? setInterval(() => job.renew(this.renewBy).catch((err: unknown) => this.report(err)), this.renewEvery) : undefined;
    try {
      await this.handler(job);
      clearInterval(timer);
      if (!job.isSettled) await job.ack();
      this.emit('completed', job);
    } catch (err) {
      clearInterval(timer);
      await this.failed(job, err);
    } finally {
      this.running--;
      if (this.closing) {
        if (this.running === 0) this.idle?.();
      } else {
        this.pump();
      }
    }
  }

  private async failed(job: Job<T>, err: unknown): Promise<void> {
    if (job.isSettled) {
      // The handler settled it itself, or the ack failed: nothing to nack.
      this.report(err);
      return;
    }
    const opts = err instanceof DoNotRetry ? { deadLetter: true } : err instanceof RetryLater ? { delayMs: err.delayMs } : {};
    try {
      const outcome = await job.nack(opts);
      this.emit('failed', job, err, outcome);
    } catch (nackErr) {
      // The message comes back at its ack deadline.
      this.emit('failed', job, err, 'retried');
      this.report(nackErr);
    }
  }

  /**
   * Stops taking messages, gives back those not started, waits for the
   * running handlers (and their acks), then emits `closed`.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.stopSubscriptions();
      const waiting = this.buffer.slice(this.head);
      this.buffer.length = 0;
      this.head = 0;
      const idle = this.running === 0 ? Promise.resolve() : new Promise<void>((r) => (this.idle = r));
      await Promise.all([this.giveBack(waiting), idle]);
      this.emit('closed');
    })();
    return this.closed;
  }
}

/** The iterator behind client.messages(): each message is acked or nacked by the loop's body. */
class MessageIterator<T> extends Consumer implements AsyncIterableIterator<Job<T>> {
  private readonly buffer: Job<T>[] = [];
  private waiter: { resolve(r: IteratorResult<Job<T>>): void; reject(e: unknown): void } | undefined;
  private failure: unknown;
  private started: Promise<void> | undefined;
  private done = false;

  constructor(client: Client, namespace: string, topic: string, opts: MessagesOptions) {
    super(client, namespace, topic, opts, opts.prefetch ?? 16);
  }

  protected received(job: Job<unknown>): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: job as Job<T>, done: false });
    } else {
      this.buffer.push(job as Job<T>);
    }
  }

  protected ended(err: ClientError | undefined): void {
    this.failure = err;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (this.failure !== undefined) w.reject(this.failure);
      else w.resolve({ value: undefined, done: true });
    }
  }

  async next(): Promise<IteratorResult<Job<T>>> {
    this.started ??= this.subscribeAll();
    await this.started;
    const job = this.buffer.shift();
    if (job) return { value: job, done: false };
    if (this.done) {
      if (this.failure !== undefined) throw this.failure;
      return { value: undefined, done: true };
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** `break` out of the loop: subscriptions end, buffered messages go back to their queues. */
  async return(): Promise<IteratorResult<Job<T>>> {
    await this.stopSubscriptions();
    const left = this.buffer.splice(0);
    await this.giveBack(left);
    this.finish();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Job<T>> {
    return this;
  }
}

export function messages<T>(client: Client, namespace: string, topic: string, opts: MessagesOptions): AsyncIterableIterator<Job<T>> {
  return new MessageIterator<T>(client, namespace, topic, opts);
}
