/**
 * A small typed gRPC client over the generated code (docs/PROTOCOL.md, "gRPC"),
 * for the CLI, the benchmark and tests. It shares the server's service
 * definition, so paths and codecs come from one place; the wire is a bare
 * HTTP/2 connection (transport.ts).
 */
import {
  ERROR_CODE_TRAILER,
  mqliteServiceDefinition,
  request,
  type RequestInit,
  type ResponseOf,
  type UnaryMethodName,
} from '../../protocol/grpc-definition.js';
import {
  ClientError,
  type BatchPublishEntry,
  type BatchPublishItem,
  type ClientMessage,
  type ClientSubscription,
  type ClientTlsOptions,
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
  type ClientNackOptions,
} from '../types.js';
import {
  batchEntries,
  batchItem,
  clientMessage,
  clientPolicy,
  clientTopicStats,
  peekPage,
  publishFields,
  wireBatchMode,
  wirePeekOrder,
} from './features.js';
import { GrpcPublisher, type GrpcPublisherOptions, type StreamPublishResult } from './publisher.js';
import { Code, GrpcTransport, type CallStatus } from './transport.js';

export { GrpcPublisher, type GrpcPublisherOptions, type StreamPublishResult } from './publisher.js';

export interface GrpcClientOptions {
  host: string;
  port: number;
  /** Deadline of each unary call; none when undefined. Streams have none. */
  timeoutMs?: number;
  /** Sent as the `x-api-key` metadata of every call (docs/PROTOCOL.md, "Authentication"). */
  apiKey?: string;
  /** Speak TLS (the broker has `server.tls` set). */
  tls?: ClientTlsOptions;
  /**
   * `publish` and `publishEx` go over one PublishStream (publisher.ts;
   * docs/CLIENT.md, "Publishing over a gRPC stream") instead of a unary
   * call each: the way to many publishes in flight. Default off.
   */
  publishStream?: boolean | GrpcPublisherOptions;
}

const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** Statuses whose name is a broker error code (the Go MQLite sends no trailer). */
const BROKER_STATUSES: ReadonlySet<string> = new Set([
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
]);

/**
 * A request above the broker's gRPC message limit: grpc-js's server answers
 * RESOURCE_EXHAUSTED, but while the client still sends the rest of a large
 * message the stream is reset (ENHANCE_YOUR_CALM) before that status arrives.
 */
const TOO_LARGE = /ENHANCE_YOUR_CALM|Received message larger than max/;

function clientError(status: CallStatus): ClientError {
  if (TOO_LARGE.test(status.details)) {
    return new ClientError('RESOURCE_EXHAUSTED', `the request is larger than the broker's gRPC message limit, limits.max_frame (16mb by default): ${status.details}`);
  }
  const fromServer = status.trailers[ERROR_CODE_TRAILER];
  if (typeof fromServer === 'string') return new ClientError(fromServer, status.details);
  const name = STATUS_NAMES[status.code] ?? `STATUS_${status.code}`;
  if (BROKER_STATUSES.has(name)) return new ClientError(name, status.details);
  // No broker code: the connection, a deadline, or an internal server error.
  return new ClientError('TRANSPORT', `${name}: ${status.details}`);
}

export class GrpcClient implements MqliteClient, QueueFeaturesClient {
  private readonly transport: GrpcTransport;
  private readonly timeoutMs: number | undefined;
  private closed = false;
  /** The shared PublishStream of `publish`, when `publishStream` is on. */
  private readonly publisher: GrpcPublisher | undefined;

  constructor(opts: GrpcClientOptions) {
    const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
    const metadata: Record<string, string> = opts.apiKey !== undefined ? { 'x-api-key': opts.apiKey } : {};
    this.transport = opts.tls ? new GrpcTransport(`https://${host}:${opts.port}`, metadata, opts.tls) : new GrpcTransport(`http://${host}:${opts.port}`, metadata);
    this.timeoutMs = opts.timeoutMs;
    if (opts.publishStream !== undefined && opts.publishStream !== false) {
      this.publisher = this.publishStream(opts.publishStream === true ? {} : opts.publishStream);
    }
  }

  /**
   * A publisher on a PublishStream of its own (docs/CLIENT.md, "Publishing
   * over a gRPC stream"): many publishes in flight on one HTTP/2 stream,
   * each resolved with its answer. `timeoutMs` defaults to the client's.
   */
  publishStream(opts: GrpcPublisherOptions = {}): GrpcPublisher {
    return new GrpcPublisher(this.transport, (ns, topic, payload, o) => this.unaryPublish(ns, topic, payload, o), clientError, { timeoutMs: this.timeoutMs, ...opts });
  }

  private async unaryPublish(namespace: string, topic: string, payload: Uint8Array | string, opts: PublishExtras): Promise<StreamPublishResult> {
    const res = await this.unary('publish', { namespace, topic, ...publishFields(payload, opts) });
    return { messageId: res.messageId, queueId: res.queueId, duplicate: res.duplicate };
  }

  private async unary<K extends UnaryMethodName>(name: K, init: RequestInit<K>): Promise<ResponseOf<K>> {
    const def = mqliteServiceDefinition[name];
    let bytes: Buffer;
    try {
      bytes = await this.transport.unary(def.path, def.requestSerialize(request(name, init)), this.timeoutMs);
    } catch (status) {
      throw clientError(status as CallStatus);
    }
    return def.responseDeserialize(bytes);
  }

  async createNamespace(name: string): Promise<void> {
    await this.unary('createNamespace', { name });
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.unary('deleteNamespace', { name });
  }

  async listNamespaces(): Promise<string[]> {
    return (await this.unary('listNamespaces', {})).namespaces;
  }

  async createTopic(namespace: string, name: string, queueCount: number): Promise<void> {
    await this.unary('createTopic', { namespace, name, queueCount });
  }

  async deleteTopic(namespace: string, name: string): Promise<void> {
    await this.unary('deleteTopic', { namespace, name });
  }

  async listTopics(namespace: string): Promise<TopicSummary[]> {
    const res = await this.unary('listTopics', { namespace });
    return res.topics.map((t) => ({ name: t.name, queueCount: t.queueCount, version: t.version, paused: t.paused }));
  }

  async resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary> {
    const res = await this.unary('resizeTopic', { namespace, name, newQueueCount });
    return { newQueueCount: res.newQueueCount, version: res.version, draining: res.draining };
  }

  async rebalanceTopic(namespace: string, name: string): Promise<void> {
    await this.unary('rebalanceTopic', { namespace, name });
  }

  async publish(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts: PublishOptions = {},
  ): Promise<{ messageId: string; queueId: number }> {
    const res = this.publisher !== undefined ? await this.publisher.publish(namespace, topic, payload, opts) : await this.unary('publish', { namespace, topic, ...publishFields(payload, opts) });
    return { messageId: res.messageId, queueId: res.queueId };
  }

  async publishEx(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts: PublishExtras,
  ): Promise<{ messageId: string; queueId: number; duplicate: boolean }> {
    return this.publisher !== undefined ? this.publisher.publish(namespace, topic, payload, opts) : this.unaryPublish(namespace, topic, payload, opts);
  }

  async publishBatch(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): Promise<BatchPublishItem[]> {
    const res = await this.unary('publishBatch', { namespace, topic, entries: batchEntries(entries), mode: wireBatchMode(mode) });
    return res.results.map(batchItem);
  }

  async consume(
    namespace: string,
    topic: string,
    queueId: number,
    opts: { batchSize?: number; autoAck?: boolean } = {},
  ): Promise<ClientMessage[]> {
    const res = await this.unary('consume', {
      namespace,
      topic,
      queueId,
      batchSize: opts.batchSize ?? 1,
      autoAck: opts.autoAck ?? false,
    });
    return res.messages.map(clientMessage);
  }

  async ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void> {
    await this.unary('ack', { namespace, topic, queueId, messageIds: [...ids] });
  }

  async nack(
    namespace: string,
    topic: string,
    queueId: number,
    ids: readonly string[],
    opts: ClientNackOptions = {},
  ): Promise<{ requeued: number; delayed: number; deadLettered: number }> {
    // An absent delay_ms means the topic's backoff; 0 means at once.
    const delayMs = opts.delayMs === undefined ? undefined : BigInt(opts.delayMs);
    const res = await this.unary('nack', { namespace, topic, queueId, messageIds: [...ids], delayMs, deadLetter: opts.deadLetter === true });
    return { requeued: res.requeued, delayed: res.delayed, deadLettered: res.deadLettered };
  }

  async renewLease(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    await this.unary('renewLease', { namespace, topic, queueId, messageIds: [...ids], extendMs: BigInt(extendMs) });
  }

  async peek(
    namespace: string,
    topic: string,
    queueId: number,
    opts: { cursor?: string; limit?: number; order?: 'asc' | 'desc'; previewBytes?: number; dlq?: boolean } = {},
  ): Promise<PeekPage> {
    const res = await this.unary('peek', {
      namespace,
      topic,
      queueId,
      cursor: opts.cursor,
      limit: opts.limit,
      order: wirePeekOrder(opts.order),
      previewBytes: opts.previewBytes,
      dlq: opts.dlq,
    });
    return peekPage(res);
  }

  async consumeDlq(namespace: string, topic: string, opts: { batchSize?: number; autoAck?: boolean } = {}): Promise<ClientMessage[]> {
    const res = await this.unary('consumeDlq', { namespace, topic, batchSize: opts.batchSize ?? 1, autoAck: opts.autoAck ?? false });
    return res.messages.map(clientMessage);
  }

  async redriveDlq(namespace: string, topic: string, max?: number): Promise<number> {
    // max 0 on the wire means everything.
    return (await this.unary('redriveDlq', { namespace, topic, max: max ?? 0 })).moved;
  }

  async pauseTopic(namespace: string, topic: string): Promise<void> {
    await this.unary('pauseTopic', { namespace, topic });
  }

  async resumeTopic(namespace: string, topic: string): Promise<void> {
    await this.unary('resumeTopic', { namespace, topic });
  }

  async purge(namespace: string, topic: string, opts: PurgeOptions = {}): Promise<number> {
    return Number((await this.unary('purge', { namespace, topic, queueId: opts.queueId, dlq: opts.dlq ?? false })).purged);
  }

  async setTopicPolicy(namespace: string, topic: string, policy: Partial<ClientTopicPolicy>): Promise<ClientTopicPolicy> {
    const res = await this.unary('setTopicPolicy', {
      namespace,
      topic,
      maxRetries: policy.maxRetries,
      retryBaseMs: policy.retryBaseMs === undefined ? undefined : BigInt(policy.retryBaseMs),
      retryCapMs: policy.retryCapMs === undefined ? undefined : BigInt(policy.retryCapMs),
      dedupWindowMs: policy.dedupWindowMs === undefined ? undefined : BigInt(policy.dedupWindowMs),
      ackTimeoutMs: policy.ackTimeoutMs === undefined ? undefined : BigInt(policy.ackTimeoutMs),
      messageTtlMs: policy.messageTtlMs === undefined ? undefined : BigInt(policy.messageTtlMs),
      deadLetterExpired: policy.deadLetterExpired,
    });
    return clientPolicy(res.policy);
  }

  async topicStats(namespace: string, topic: string): Promise<ClientTopicStats> {
    return clientTopicStats((await this.unary('getTopicStats', { namespace, topic })).stats!);
  }

  /**
   * Resolves once the server has the subscription in place (it sends the
   * response headers then), so anything published afterwards is pushed to it;
   * rejects when the server refuses it (unknown queue...).
   */
  subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription> {
    const def = mqliteServiceDefinition.subscribe;
    const client = this;
    return new Promise<ClientSubscription>((resolve, reject) => {
      let started = false;
      let closing = false;
      let ended = false;
      let markClosed: () => void = () => {};
      const closed = new Promise<void>((done) => (markClosed = done));
      const subscription: ClientSubscription = {
        close() {
          if (!ended) {
            closing = true;
            call.cancel();
          }
          return closed;
        },
      };
      const start = (): void => {
        if (started) return;
        started = true;
        resolve(subscription);
      };
      const call = this.transport.call(def.path, def.requestSerialize(request('subscribe', { namespace, topic, queueId, autoAck: opts.autoAck, maxInflight: opts.maxInflight })), undefined, {
        onHeaders: start,
        onMessage(bytes) {
          start();
          opts.onMessage(clientMessage(def.responseDeserialize(bytes)));
        },
        onEnd(status) {
          ended = true;
          markClosed();
          const cancelled = (closing || client.closed) && status.code === Code.CANCELLED;
          const err = status.code === Code.OK || cancelled ? undefined : clientError(status);
          if (!started) {
            started = true;
            reject(err ?? new ClientError('TRANSPORT', 'subscription ended before it started'));
            return;
          }
          opts.onEnd?.(err);
        },
      });
    });
  }

  /** Ends open subscriptions (their onEnd gets no error) and the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.transport.close();
  }
}
