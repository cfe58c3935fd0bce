/**
 * The protocol-neutral client interface that the TCP, HTTP and gRPC clients
 * implement, so the CLI, the benchmarks and tests drive any front the same way.
 */

export interface ClientMessage {
  id: string;
  namespace: string;
  topic: string;
  queueId: number;
  payload: Uint8Array;
  /** Unix time in nanoseconds. */
  timestamp: bigint;
  headers: Record<string, string>;
  deliveryCount: number;
}

export interface TopicSummary {
  name: string;
  queueCount: number;
  version: bigint;
}

export interface ResizeSummary {
  newQueueCount: number;
  version: bigint;
  draining: boolean;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  routingKey?: string;
  /** Undefined or -1: automatic routing. */
  queueId?: number;
}

export interface ClientSubscription {
  /** Ends the subscription and resolves when the server side is told. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  autoAck: boolean;
  onMessage(msg: ClientMessage): void;
  /** The stream ended: with an error, or undefined when closed normally. */
  onEnd?(err: ClientError | undefined): void;
}

/**
 * A failure reported by the server (`code` is the broker's error code when
 * the protocol carries it, e.g. NOT_FOUND) or by the transport (`code`
 * TRANSPORT).
 */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface MqliteClient {
  createNamespace(name: string): Promise<void>;
  deleteNamespace(name: string): Promise<void>;
  listNamespaces(): Promise<string[]>;
  createTopic(namespace: string, name: string, queueCount: number): Promise<void>;
  deleteTopic(namespace: string, name: string): Promise<void>;
  listTopics(namespace: string): Promise<TopicSummary[]>;
  resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary>;
  rebalanceTopic(namespace: string, name: string): Promise<void>;
  /**
   * Bytes are sent as they are where the protocol carries bytes (gRPC, TCP
   * protobuf). JSON protocols (HTTP, TCP JSON) send a payload that is a JSON
   * document as that JSON value, and anything else as a JSON string.
   */
  publish(namespace: string, topic: string, payload: Uint8Array | string, opts?: PublishOptions): Promise<{ messageId: string; queueId: number }>;
  consume(namespace: string, topic: string, queueId: number, opts?: { batchSize?: number; autoAck?: boolean }): Promise<ClientMessage[]>;
  ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void>;
  subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription>;
  close(): Promise<void>;
}
