/**
 * The client `connect()` returns (docs/CLIENT.md): the same methods on every
 * protocol, over one protocol client (TCP, HTTP or gRPC) that it replaces
 * when the connection drops.
 *
 * Reconnect (docs/CLIENT.md, "Reconnect"): a call or a subscription that
 * fails with a transport error marks the connection lost. The client then
 * opens a new one, with exponential backoff and full jitter, until it
 * succeeds or `close()` is called. Meanwhile:
 * - the requests that were in flight fail with a retryable ClientError
 *   (`retryable`: the request may or may not have been applied; a publish
 *   with a dedup id can be retried exactly);
 * - new calls wait for the connection, up to the timeout, and then fail the
 *   same way;
 * - subscriptions (and so workers and iterators) are opened again on the
 *   new connection; their messages that were in flight come back to the
 *   queue at their ack deadline, as for any consumer that went away.
 * `close()` is final: every later call fails with CLOSED.
 */
import { EventEmitter } from 'node:events';
import type { Endpoint } from './connect.js';
import {
  type BatchPublishEntry,
  type BatchPublishItem,
  type ClientMessage,
  type ClientNackOptions,
  ClientError,
  type ClientSubscription,
  type ClientTopicPolicy,
  type PurgeOptions,
  type ClientTopicStats,
  type MqliteClient,
  type PeekPage,
  type PublishExtras,
  type PublishOptions,
  type QueueFeaturesClient,
  type ResizeSummary,
  type SubscribeOptions,
  type TopicSummary,
} from './types.js';
import { type Job, type MessagesOptions, type WorkerHandler, type WorkerOptions, Worker, messages } from './worker.js';

/** What each protocol client implements. */
export type Transport = MqliteClient & QueueFeaturesClient;

export interface ReconnectOptions {
  /** First delay before a new attempt; default 100 ms. */
  initialDelayMs?: number;
  /** Largest delay between attempts; default 5 s. */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row (the client then closes); default: never. */
  maxAttempts?: number;
}

/** Events: `disconnect` (err), `reconnect` (), `error` (err: reconnecting gave up). */
export interface ClientEvents {
  disconnect: [err: ClientError];
  reconnect: [];
  error: [err: ClientError];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Errors that mean "the connection, not the request": reconnect, and the request may be retried. */
export function isRetryable(err: unknown): err is ClientError {
  return err instanceof ClientError && err.retryable;
}

export class Client extends EventEmitter<ClientEvents> implements Transport {
  private transport: Transport | undefined;
  /** Waiters for the next connection (resolve with it, or reject when the client closes or gives up). */
  private waiters: { resolve(t: Transport): void; reject(err: ClientError): void }[] = [];
  private reconnecting = false;
  private closed: ClientError | undefined;
  private lastError: ClientError | undefined;
  private readonly subscriptions = new Set<ResilientSubscription>();
  private readonly workers = new Set<{ close(): Promise<void> }>();

  private constructor(
    /** Where this client connects. */
    readonly endpoint: Endpoint,
    private readonly open: () => Promise<Transport>,
    private readonly reconnect: ReconnectOptions | false,
    private readonly timeoutMs: number,
    /** Several nodes of a cluster: an UNAVAILABLE answer (a node standing by) moves to the next one. */
    private readonly cluster: boolean,
  ) {
    super();
  }

  /** Opens the first connection and checks that a broker answers on it. */
  static async open(ep: Endpoint, open: () => Promise<Transport>, reconnect: ReconnectOptions | false | undefined, timeoutMs: number | undefined, cluster = false): Promise<Client> {
    const client = new Client(ep, open, reconnect ?? {}, timeoutMs ?? DEFAULT_TIMEOUT_MS, cluster);
    client.transport = await client.probe();
    return client;
  }

  /** True while a connection is up (not lost, not closed). */
  get connected(): boolean {
    return this.transport !== undefined;
  }

  /**
   * A new protocol client that a broker answered on. Any answer from the
   * broker proves the connection, a refusal included (a key without the
   * `read` permission is still a working key).
   */
  private async probe(): Promise<Transport> {
    const t = await this.open().catch((err: unknown) => {
      throw this.described(err);
    });
    try {
      await t.listNamespaces();
    } catch (err) {
      if (isRetryable(err) || (err instanceof ClientError && err.code === 'UNAUTHENTICATED')) {
        await t.close().catch(() => undefined);
        throw this.described(err);
      }
    }
    return t;
  }

  /** A failure to reach the broker, naming the URL and what to check. */
  private described(err: unknown): ClientError {
    if (!(err instanceof ClientError)) return new ClientError('TRANSPORT', `${this.endpoint.url}: ${(err as Error).message}`);
    if (!isRetryable(err) || err.message.includes(this.endpoint.url)) return err;
    // What to do is in the message already (hints.ts).
    return new ClientError(err.code, `${this.endpoint.url}: ${err.message}`);
  }

  /** The connection, waiting for a reconnect up to the timeout. */
  private current(): Promise<Transport> {
    if (this.transport) return Promise.resolve(this.transport);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<Transport>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const last = this.lastError ? `; last error: ${this.lastError.message}` : '';
        reject(new ClientError('TRANSPORT', `not connected to ${this.endpoint.url} after ${this.timeoutMs} ms: reconnecting${last}`));
      }, this.timeoutMs);
      const waiter = {
        resolve: (t: Transport) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (err: ClientError) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Runs one call on the connection; a transport failure starts a reconnect and is rethrown, retryable. */
  private async call<T>(fn: (t: Transport) => Promise<T>): Promise<T> {
    const t = await this.current();
    try {
      return await fn(t);
    } catch (err) {
      if (err instanceof ClientError && (err.code === 'TRANSPORT' || (this.cluster && err.code === 'UNAVAILABLE'))) this.lost(t, err);
      throw err;
    }
  }

  /** The connection `t` failed: drop it and reconnect (once, however many callers saw it fail). */
  lost(t: Transport | undefined, err: ClientError): void {
    if (this.closed || (t !== undefined && t !== this.transport)) return;
    if (this.transport === undefined) {
      // already reconnecting
      this.lastError = err;
      return;
    }
    const old = this.transport;
    this.transport = undefined;
    this.lastError = err;
    if (old) void old.close().catch(() => undefined);
    if (this.reconnect === false) {
      void this.closeWith(new ClientError('TRANSPORT', `connection to ${this.endpoint.url} lost: ${err.message} (reconnect is off)`));
      return;
    }
    this.emit('disconnect', err);
    if (!this.reconnecting) void this.reconnectLoop(this.reconnect);
  }

  private async reconnectLoop(opts: ReconnectOptions): Promise<void> {
    this.reconnecting = true;
    const initial = opts.initialDelayMs ?? 100;
    const max = opts.maxDelayMs ?? 5_000;
    const attempts = opts.maxAttempts ?? Infinity;
    for (let n = 0; !this.closed; n++) {
      if (n >= attempts) {
        const err = new ClientError('TRANSPORT', `gave up reconnecting to ${this.endpoint.url} after ${n} attempts; last error: ${this.lastError?.message}`);
        this.reconnecting = false;
        this.safeError(err);
        await this.closeWith(err);
        return;
      }
      // Full jitter: clients that lost the same broker do not come back together.
      const delay = Math.random() * Math.min(max, initial * 2 ** n);
      await new Promise((r) => setTimeout(r, delay));
      if (this.closed) break;
      try {
        const t = await this.probe();
        if (this.closed) {
          await t.close().catch(() => undefined);
          break;
        }
        this.transport = t;
        this.reconnecting = false;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.resolve(t);
        this.emit('reconnect');
        for (const s of this.subscriptions) s.resume();
        return;
      } catch (err) {
        this.lastError = err instanceof ClientError ? err : new ClientError('TRANSPORT', String(err));
      }
    }
    this.reconnecting = false;
  }

  /** Reports through `error` when someone listens; never throws from a timer. */
  private safeError(err: ClientError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err.message, { code: 'MQLITE_CLIENT' });
  }

  private async closeWith(reason: ClientError): Promise<void> {
    if (this.closed) return;
    this.closed = reason;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(reason);
    const t = this.transport;
    this.transport = undefined;
    await Promise.allSettled([...[...this.workers].map((w) => w.close()), ...[...this.subscriptions].map((s) => s.close())]);
    await t?.close().catch(() => undefined);
  }

  /** Final: stops workers (waiting for running handlers), ends subscriptions and closes the connection. */
  close(): Promise<void> {
    return this.closeWith(new ClientError('CLOSED', `client for ${this.endpoint.url} is closed`));
  }

  // ------------------------------------------------------------ consumers

  /**
   * A push subscription that survives reconnects: it is opened again on
   * the new connection; `onEnd` is called once, when it is closed or the
   * broker ends it for good (topic deleted).
   */
  async subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription> {
    const sub = new ResilientSubscription(this, namespace, topic, queueId, opts);
    await sub.start();
    this.subscriptions.add(sub);
    return sub;
  }

  /** @internal */
  openInner(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription> {
    return this.call((t) => t.subscribe(namespace, topic, queueId, opts));
  }

  /** @internal */
  forget(sub: ResilientSubscription): void {
    this.subscriptions.delete(sub);
  }

  /** @internal the client is closed: nothing is to be reopened. */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Runs `handler` for every message of the topic's queues, `concurrency`
   * at a time: ack when it resolves, nack when it throws (docs/CLIENT.md,
   * "Workers").
   */
  worker<T = unknown>(namespace: string, topic: string, handler: WorkerHandler<T>, opts: WorkerOptions = {}): Worker<T> {
    if (this.closed) throw this.closed;
    const w = new Worker<T>(this, namespace, topic, handler, opts);
    this.workers.add(w);
    w.once('closed', () => this.workers.delete(w));
    w.start();
    return w;
  }

  /** The topic's messages as an async iterator: `for await (const m of client.messages(ns, topic))`. */
  messages<T = unknown>(namespace: string, topic: string, opts: MessagesOptions = {}): AsyncIterableIterator<Job<T>> {
    return messages<T>(this, namespace, topic, opts);
  }

  // ------------------------------------------------------- the plain calls

  createNamespace(name: string): Promise<void> {
    return this.call((t) => t.createNamespace(name));
  }
  deleteNamespace(name: string): Promise<void> {
    return this.call((t) => t.deleteNamespace(name));
  }
  listNamespaces(): Promise<string[]> {
    return this.call((t) => t.listNamespaces());
  }
  createTopic(namespace: string, name: string, queueCount: number): Promise<void> {
    return this.call((t) => t.createTopic(namespace, name, queueCount));
  }
  deleteTopic(namespace: string, name: string): Promise<void> {
    return this.call((t) => t.deleteTopic(namespace, name));
  }
  listTopics(namespace: string): Promise<TopicSummary[]> {
    return this.call((t) => t.listTopics(namespace));
  }
  resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary> {
    return this.call((t) => t.resizeTopic(namespace, name, newQueueCount));
  }
  rebalanceTopic(namespace: string, name: string): Promise<void> {
    return this.call((t) => t.rebalanceTopic(namespace, name));
  }
  publish(namespace: string, topic: string, payload: Uint8Array | string, opts?: PublishOptions): Promise<{ messageId: string; queueId: number }> {
    return this.call((t) => t.publish(namespace, topic, payload, opts));
  }
  consume(namespace: string, topic: string, queueId: number, opts?: { batchSize?: number; autoAck?: boolean }): Promise<ClientMessage[]> {
    return this.call((t) => t.consume(namespace, topic, queueId, opts));
  }
  ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void> {
    return this.call((t) => t.ack(namespace, topic, queueId, ids));
  }
  publishEx(namespace: string, topic: string, payload: Uint8Array | string, opts: PublishExtras): Promise<{ messageId: string; queueId: number; duplicate: boolean }> {
    return this.call((t) => t.publishEx(namespace, topic, payload, opts));
  }
  publishBatch(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): Promise<BatchPublishItem[]> {
    return this.call((t) => t.publishBatch(namespace, topic, entries, mode));
  }
  nack(
    namespace: string,
    topic: string,
    queueId: number,
    ids: readonly string[],
    opts?: ClientNackOptions,
  ): Promise<{ requeued: number; delayed: number; deadLettered: number }> {
    return this.call((t) => t.nack(namespace, topic, queueId, ids, opts));
  }
  renewLease(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    return this.call((t) => t.renewLease(namespace, topic, queueId, ids, extendMs));
  }
  peek(
    namespace: string,
    topic: string,
    queueId: number,
    opts?: { cursor?: string; limit?: number; order?: 'asc' | 'desc'; previewBytes?: number; dlq?: boolean },
  ): Promise<PeekPage> {
    return this.call((t) => t.peek(namespace, topic, queueId, opts));
  }
  consumeDlq(namespace: string, topic: string, opts?: { batchSize?: number; autoAck?: boolean }): Promise<ClientMessage[]> {
    return this.call((t) => t.consumeDlq(namespace, topic, opts));
  }
  redriveDlq(namespace: string, topic: string, max?: number): Promise<number> {
    return this.call((t) => t.redriveDlq(namespace, topic, max));
  }
  setTopicPolicy(namespace: string, topic: string, policy: Partial<ClientTopicPolicy>): Promise<ClientTopicPolicy> {
    return this.call((t) => t.setTopicPolicy(namespace, topic, policy));
  }
  topicStats(namespace: string, topic: string): Promise<ClientTopicStats> {
    return this.call((t) => t.topicStats(namespace, topic));
  }
  pauseTopic(namespace: string, topic: string): Promise<void> {
    return this.call((t) => t.pauseTopic(namespace, topic));
  }
  resumeTopic(namespace: string, topic: string): Promise<void> {
    return this.call((t) => t.resumeTopic(namespace, topic));
  }
  purge(namespace: string, topic: string, opts?: PurgeOptions): Promise<number> {
    return this.call((t) => t.purge(namespace, topic, opts));
  }
}

/** A subscription that is opened again after a reconnect (see Client.subscribe). */
class ResilientSubscription implements ClientSubscription {
  private inner: ClientSubscription | undefined;
  private closed = false;
  private ended = false;

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    private readonly topic: string,
    private readonly queueId: number,
    private readonly opts: SubscribeOptions,
  ) {}

  async start(): Promise<void> {
    this.inner = await this.client.openInner(this.namespace, this.topic, this.queueId, { ...this.opts, onEnd: (err) => this.innerEnded(err) });
  }

  private innerEnded(err: ClientError | undefined): void {
    this.inner = undefined;
    if (this.closed || this.client.isClosed) return this.end(undefined);
    // Without an error and without our close(), the protocol client it ran
    // on was closed under it (a reconnect drops the old one): reopen too.
    if (err === undefined || isRetryable(err)) {
      // The connection went (or the broker is stopping): reopen on the next one.
      if (err !== undefined) this.client.lost(undefined, err);
      if (this.client.connected) this.resume();
      return;
    }
    this.end(err);
  }

  /** Opens the subscription again (after a reconnect); a broker refusal ends it. */
  resume(): void {
    if (this.closed || this.inner !== undefined || this.ended) return;
    this.start().catch((err: unknown) => {
      if (isRetryable(err) && !this.client.isClosed) {
        // the connection is bad after all: the reconnect that follows resumes it
        this.client.lost(undefined, err);
        return;
      }
      this.end(err instanceof ClientError ? err : new ClientError('TRANSPORT', String(err)));
    });
  }

  private end(err: ClientError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.client.forget(this);
    this.opts.onEnd?.(err);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inner = this.inner;
    if (inner) await inner.close().catch(() => undefined);
    else this.end(undefined);
  }
}
