/**
 * A small typed gRPC client over the generated code (PROTOCOL.md, "gRPC"),
 * for the CLI, the benchmark and tests. It shares the server's service
 * definition, so paths and codecs come from one place.
 */
import { Client, credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import type { Message } from '../../../gen/mqlite/v1/mqlite_pb.js';
import {
  mqliteServiceDefinition,
  request,
  type RequestInit,
  type ResponseOf,
  type UnaryMethodName,
} from '../../server/grpc/definition.js';
import { ERROR_CODE_TRAILER } from '../../server/grpc/errors.js';
import {
  ClientError,
  type ClientMessage,
  type ClientSubscription,
  type MqliteClient,
  type PublishOptions,
  type ResizeSummary,
  type SubscribeOptions,
  type TopicSummary,
} from '../types.js';

export interface GrpcClientOptions {
  host: string;
  port: number;
  /** Deadline of each unary call; none when undefined. Streams have none. */
  timeoutMs?: number;
}

/** Statuses whose name is a broker error code (the Go MQLite sends no trailer). */
const BROKER_STATUSES: ReadonlySet<status> = new Set([
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.UNAUTHENTICATED,
]);

function clientError(err: ServiceError): ClientError {
  const fromServer = err.metadata?.get(ERROR_CODE_TRAILER)[0];
  if (typeof fromServer === 'string') return new ClientError(fromServer, err.details);
  if (BROKER_STATUSES.has(err.code)) return new ClientError(status[err.code], err.details);
  // No broker code: the connection, a deadline, or an internal server error.
  return new ClientError('TRANSPORT', `${status[err.code]}: ${err.details}`);
}

function clientMessage(m: Message): ClientMessage {
  return {
    id: m.id,
    namespace: m.namespace,
    topic: m.topic,
    queueId: m.queueId,
    payload: m.payload,
    timestamp: m.timestamp,
    headers: m.headers,
    deliveryCount: m.deliveryCount,
  };
}

export class GrpcClient implements MqliteClient {
  private readonly client: Client;
  private readonly timeoutMs: number | undefined;

  constructor(opts: GrpcClientOptions) {
    const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
    this.client = new Client(`${host}:${opts.port}`, credentials.createInsecure(), {
      // The server bounds what it sends (batch and payload limits); a consume
      // batch must never be refused here after the server popped it.
      'grpc.max_receive_message_length': -1,
      'grpc.enable_channelz': 0,
    });
    this.timeoutMs = opts.timeoutMs;
  }

  private options(): CallOptions {
    return this.timeoutMs === undefined ? {} : { deadline: Date.now() + this.timeoutMs };
  }

  private unary<K extends UnaryMethodName>(name: K, init: RequestInit<K>): Promise<ResponseOf<K>> {
    const def = mqliteServiceDefinition[name];
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request(name, init),
        new Metadata(),
        this.options(),
        (err: ServiceError | null, res?: ResponseOf<K>) => (err ? reject(clientError(err)) : resolve(res!)),
      );
    });
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
    return res.topics.map((t) => ({ name: t.name, queueCount: t.queueCount, version: t.version }));
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
    const res = await this.unary('publish', {
      namespace,
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
      headers: opts.headers,
      routingKey: opts.routingKey,
      // Sent only when explicit: absent means automatic routing (PROTOCOL.md).
      queueId: opts.queueId,
    });
    return { messageId: res.messageId, queueId: res.queueId };
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

  /**
   * Resolves once the server has the subscription in place (it sends the
   * response headers then), so anything published afterwards is pushed to it;
   * rejects when the server refuses it (unknown queue...).
   */
  subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription> {
    const def = mqliteServiceDefinition.subscribe;
    const call = this.client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request('subscribe', { namespace, topic, queueId, autoAck: opts.autoAck }),
      new Metadata(),
      {},
    );
    return new Promise<ClientSubscription>((resolve, reject) => {
      let started = false;
      let ended = false;
      let closing = false;
      const closed = new Promise<void>((done) => call.once('status', () => done()));
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
      const end = (err: ClientError | undefined): void => {
        if (ended) return;
        ended = true;
        if (!started) {
          started = true;
          reject(err ?? new ClientError('TRANSPORT', 'subscription ended before it started'));
          return;
        }
        opts.onEnd?.(err);
      };
      call.on('metadata', start);
      call.on('data', (m: Message) => {
        start();
        opts.onMessage(clientMessage(m));
      });
      call.on('error', (err: ServiceError) => end(closing && err.code === status.CANCELLED ? undefined : clientError(err)));
      call.on('end', () => end(undefined));
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
