/**
 * A small typed client of the TCP framing front (docs/PROTOCOL.md, "TCP
 * framing"), in either encoding. Requests are pipelined: each call writes
 * its frame at once (frames of one event-loop turn leave in one socket
 * write) and its reply is matched by order. A subscription takes its own
 * connection, as the pushed frames would otherwise interleave with replies;
 * on it, acks use the `request_id` extension.
 */
import { type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding, FrameReader, FrameWriter, ReadResult } from '../../protocol/frame.js';
import { PbBuilder } from '../../protocol/pb-builder.js';
import type {
  BatchPublishEntry,
  BatchPublishItem,
  ClientMessage,
  ClientTlsOptions,
  ClientSubscription,
  ClientTopicPolicy,
  PurgeOptions,
  ClientTopicStats,
  MqliteClient,
  PeekPage,
  PublishExtras,
  PublishOptions,
  QueueFeaturesClient,
  ResizeSummary,
  SubscribeOptions,
  TopicSummary,
  ClientNackOptions,
} from '../types.js';
import { sniffWrongProtocol } from '../hints.js';
import { ClientError } from '../types.js';
import {
  type Reply,
  decodeMessages,
  decodeNames,
  decodeNothing,
  decodePublished,
  decodePublishedEx,
  decodePushed,
  decodeReply,
  decodeResize,
  decodeTopics,
  replyError,
  writeCommand,
  writePublish,
} from './codec.js';
import {
  type CommandData,
  type PeekOptions,
  consumeDlqData,
  decodeBatch,
  decodeNack,
  decodePeek,
  decodePolicy,
  decodePurge,
  decodeRedrive,
  decodeStats,
  nackData,
  peekData,
  policyData,
  publishBatchData,
  pauseData,
  purgeData,
  redriveData,
  renewData,
  statsData,
} from './features.js';

export interface TcpClientOptions {
  host: string;
  port: number;
  encoding: 'json' | 'protobuf';
  /** Connect timeout, and how long the oldest unanswered request may wait; default 30 s. */
  timeoutMs?: number;
  /** Largest reply frame accepted; default 64 MiB. */
  maxFrameBytes?: number;
  /** Sent in an `auth` command as the first frame of every connection (docs/PROTOCOL.md, "Authentication"). */
  apiKey?: string;
  /** Speak TLS (the broker has `server.tls` set). */
  tls?: ClientTlsOptions;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  decode(reply: Reply): unknown;
  at: number;
}

/** One framed connection: ordered requests, plus replies by request_id and pushed frames. */
class FramedConnection {
  private readonly reader: FrameReader;
  private readonly out = new FrameWriter();
  private readonly fifo: Pending[] = [];
  private head = 0;
  private readonly byId = new Map<string, Pending>();
  private flushScheduled = false;
  private failed: ClientError | undefined;
  private readonly watchdog: NodeJS.Timeout;
  /** Frames carrying this request id after its first reply are pushes. */
  pushId: string | undefined;
  onPush: ((reply: Reply) => void) | undefined;
  onClose: ((err: ClientError | undefined) => void) | undefined;
  closing = false;

  /** The first bytes the server sent, kept to tell another protocol from a broken frame. */
  private firstBytes: Buffer | undefined;

  private constructor(
    readonly socket: Socket,
    readonly encoding: Encoding,
    private readonly timeoutMs: number,
    maxFrameBytes: number,
    private readonly address: string,
  ) {
    this.reader = new FrameReader(maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ClientError('TRANSPORT', err.message)));
    socket.on('close', () => {
      clearInterval(this.watchdog);
      // Closed before a single byte came back: a TLS port does that to a plaintext client.
      const err = this.closing ? undefined : new ClientError('TRANSPORT', this.firstBytes === undefined ? `${this.address}: connection closed by the server before any reply` : 'connection closed by the server');
      this.fail(err ?? new ClientError('TRANSPORT', 'connection closed'));
      this.onClose?.(err);
    });
    this.watchdog = setInterval(() => this.checkTimeouts(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.watchdog.unref();
  }

  /** Connects and, with `apiKey`, authenticates (rejects UNAUTHENTICATED when the broker refuses the key). */
  static async open(opts: TcpClientOptions): Promise<FramedConnection> {
    const conn = await FramedConnection.connect(opts);
    if (opts.apiKey !== undefined) {
      const key = opts.apiKey;
      try {
        await conn.request(
          (out) => writeCommand(out, conn.encoding, 'auth', undefined, () => `{"api_key":${q(key)}}`, () => new PbBuilder(key.length + 8).string(1, key).finish()),
          decodeNothing,
        );
      } catch (err) {
        conn.closing = true;
        conn.socket.destroy();
        throw err;
      }
    }
    return conn;
  }

  private static connect(opts: TcpClientOptions): Promise<FramedConnection> {
    const encoding = opts.encoding === 'json' ? ENCODING_JSON : ENCODING_PROTOBUF;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const socket = opts.tls ? tlsConnect({ host: opts.host, port: opts.port, ...opts.tls }) : netConnect({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ClientError('TRANSPORT', `connect to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ClientError('TRANSPORT', `connect to ${opts.host}:${opts.port}${opts.tls ? ' (TLS)' : ''}: ${err.message}`));
      });
      // Over TLS the connection is usable once the handshake has verified the server.
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FramedConnection(socket, encoding, timeoutMs, opts.maxFrameBytes ?? 64 * 1024 * 1024, `${opts.host}:${opts.port}`));
      });
    });
  }

  /** Queues a request; `write` puts its frame into the output. Replies come back in order. */
  request<T>(write: (out: FrameWriter) => void, decode: (reply: Reply) => T, requestId?: string): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject, decode, at: performance.now() };
      if (requestId === undefined) this.fifo.push(p);
      else this.byId.set(requestId, p);
      const alone = this.fifo.length - this.head + this.byId.size === 1;
      try {
        write(this.out);
      } catch (err) {
        // nothing was written (commands are built before their frame starts): no reply will come
        if (requestId === undefined) this.fifo.pop();
        else this.byId.delete(requestId);
        throw err;
      }
      // A lone request leaves at once; one of many waits for the rest of the turn.
      if (alone || this.out.pendingBytes >= 256 * 1024) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.flush();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  private flush(): void {
    for (const part of this.out.take()) this.socket.write(part);
  }

  private onData(chunk: Buffer): void {
    const reader = this.reader;
    if (this.firstBytes === undefined) this.firstBytes = Buffer.from(chunk.subarray(0, 16));
    reader.push(chunk);
    for (;;) {
      const r = reader.next();
      if (r === ReadResult.NeedMore) return;
      if (r !== ReadResult.Frame) return this.broken(`bad reply frame (length ${reader.length})`);
      let reply: Reply;
      try {
        reply = decodeReply(reader.encoding, reader.buf, reader.start, reader.end);
      } catch (err) {
        return this.broken(`undecodable reply: ${(err as Error).message}`);
      }
      this.dispatch(reply);
    }
  }

  /** Bytes that are no MQLite reply: another protocol on this port (sniffed from the first bytes), or a broken frame. */
  private broken(what: string): void {
    this.fail(new ClientError('TRANSPORT', sniffWrongProtocol(this.firstBytes ?? Buffer.alloc(0), this.address) ?? `${this.address}: ${what}`));
    this.socket.destroy();
  }

  private dispatch(reply: Reply): void {
    let p: Pending | undefined;
    if (reply.requestId !== undefined) {
      p = this.byId.get(reply.requestId);
      if (p) this.byId.delete(reply.requestId);
      else if (reply.requestId === this.pushId) {
        this.onPush?.(reply);
        return;
      }
    } else if (this.head < this.fifo.length) {
      p = this.fifo[this.head];
      this.fifo[this.head++] = undefined as unknown as Pending;
      if (this.head === this.fifo.length) {
        this.fifo.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.fifo.length) {
        // a pipeline that never drains: drop the answered head now and then
        this.fifo.splice(0, this.head);
        this.head = 0;
      }
    }
    if (!p) return;
    if (!reply.ok) p.reject(replyError(reply));
    else {
      try {
        p.resolve(p.decode(reply));
      } catch (err) {
        p.reject(new ClientError('TRANSPORT', `unexpected reply: ${(err as Error).message}`));
      }
    }
  }

  private checkTimeouts(): void {
    const oldest = this.head < this.fifo.length ? this.fifo[this.head]!.at : Infinity;
    let min = oldest;
    for (const p of this.byId.values()) min = Math.min(min, p.at);
    if (performance.now() - min > this.timeoutMs) {
      this.fail(new ClientError('TRANSPORT', `no reply within ${this.timeoutMs} ms`));
      this.socket.destroy();
    }
  }

  private fail(err: ClientError): void {
    this.failed ??= err;
    const pending = [...this.fifo.slice(this.head), ...this.byId.values()];
    this.fifo.length = 0;
    this.head = 0;
    this.byId.clear();
    for (const p of pending) p.reject(err);
  }
}

/** A subscription on its own connection; `ack` uses the request_id extension on it. */
export class TcpSubscription implements ClientSubscription {
  private nextId = 0;

  constructor(
    private readonly conn: FramedConnection,
    private readonly namespace: string,
    private readonly topic: string,
    private readonly queueId: number,
  ) {}

  ack(ids: readonly string[]): Promise<void> {
    const rid = `ack-${++this.nextId}`;
    return this.conn.request(
      (out) =>
        writeCommand(
          out,
          this.conn.encoding,
          'ack',
          rid,
          () => ackJson(this.namespace, this.topic, this.queueId, ids),
          () => ackPb(this.namespace, this.topic, this.queueId, ids),
        ),
      decodeNothing,
      rid,
    );
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

const q = JSON.stringify;

function ackJson(ns: string, topic: string, queueId: number, ids: readonly string[]): string {
  return `{"namespace":${q(ns)},"topic":${q(topic)},"queue_id":${queueId},"message_ids":${q(ids)}}`;
}

function ackPb(ns: string, topic: string, queueId: number, ids: readonly string[]): Uint8Array {
  const b = new PbBuilder().string(1, ns).string(2, topic).int32(3, queueId);
  for (const id of ids) b.message(4, Buffer.from(id, 'utf8'));
  return b.finish();
}

export class TcpClient implements MqliteClient, QueueFeaturesClient {
  /** Open subscriptions: close() ends them too. */
  private readonly subscriptions = new Set<TcpSubscription>();

  private constructor(
    private readonly conn: FramedConnection,
    private readonly opts: TcpClientOptions,
  ) {}

  static async connect(opts: TcpClientOptions): Promise<TcpClient> {
    return new TcpClient(await FramedConnection.open(opts), opts);
  }

  private cmd<T>(action: Parameters<typeof writeCommand>[2], json: () => string, pb: () => Uint8Array, decode: (r: Reply) => T): Promise<T> {
    return this.conn.request((out) => writeCommand(out, this.conn.encoding, action, undefined, json, pb), decode);
  }

  createNamespace(name: string): Promise<void> {
    return this.cmd('create_namespace', () => `{"name":${q(name)}}`, () => new PbBuilder().string(1, name).finish(), decodeNothing);
  }

  deleteNamespace(name: string): Promise<void> {
    return this.cmd('delete_namespace', () => `{"name":${q(name)}}`, () => new PbBuilder().string(1, name).finish(), decodeNothing);
  }

  listNamespaces(): Promise<string[]> {
    return this.cmd('list_namespaces', () => '{}', () => new Uint8Array(0), decodeNames);
  }

  createTopic(namespace: string, name: string, queueCount: number): Promise<void> {
    return this.cmd(
      'create_topic',
      () => `{"namespace":${q(namespace)},"name":${q(name)},"queue_count":${queueCount}}`,
      () => new PbBuilder().string(1, namespace).string(2, name).int32(3, queueCount).finish(),
      decodeNothing,
    );
  }

  deleteTopic(namespace: string, name: string): Promise<void> {
    return this.cmd(
      'delete_topic',
      () => `{"namespace":${q(namespace)},"name":${q(name)}}`,
      () => new PbBuilder().string(1, namespace).string(2, name).finish(),
      decodeNothing,
    );
  }

  listTopics(namespace: string): Promise<TopicSummary[]> {
    return this.cmd(
      'list_topics',
      () => `{"namespace":${q(namespace)}}`,
      () => new PbBuilder().string(1, namespace).finish(),
      decodeTopics,
    );
  }

  resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary> {
    return this.cmd(
      'resize_topic',
      () => `{"namespace":${q(namespace)},"name":${q(name)},"new_queue_count":${newQueueCount}}`,
      () => new PbBuilder().string(1, namespace).string(2, name).int32(3, newQueueCount).finish(),
      decodeResize,
    );
  }

  rebalanceTopic(namespace: string, name: string): Promise<void> {
    return this.cmd(
      'rebalance_topic',
      () => `{"namespace":${q(namespace)},"name":${q(name)}}`,
      () => new PbBuilder().string(1, namespace).string(2, name).finish(),
      decodeNothing,
    );
  }

  publish(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts?: PublishOptions,
  ): Promise<{ messageId: string; queueId: number }> {
    return this.conn.request((out) => writePublish(out, this.conn.encoding, undefined, namespace, topic, payload, opts), decodePublished);
  }

  consume(
    namespace: string,
    topic: string,
    queueId: number,
    opts: { batchSize?: number; autoAck?: boolean } = {},
  ): Promise<ClientMessage[]> {
    const batchSize = opts.batchSize ?? 1;
    const autoAck = opts.autoAck ?? false;
    return this.cmd(
      'consume',
      () => `{"namespace":${q(namespace)},"topic":${q(topic)},"queue_id":${queueId},"batch_size":${batchSize},"auto_ack":${autoAck}}`,
      () => new PbBuilder().string(1, namespace).string(2, topic).int32(3, queueId).int32(4, batchSize).bool(5, autoAck).finish(),
      decodeMessages,
    );
  }

  ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void> {
    return this.cmd('ack', () => ackJson(namespace, topic, queueId, ids), () => ackPb(namespace, topic, queueId, ids), decodeNothing);
  }

  // ---- the extensions (QueueFeaturesClient) ----

  private feature<T>(action: Parameters<typeof writeCommand>[2], data: CommandData, decode: (r: Reply) => T): Promise<T> {
    return this.cmd(action, data.json, data.pb, decode);
  }

  /** Publish with dedup_id, delay_ms or deliver_at_ms; `duplicate` when the dedup window answered it. */
  publishEx(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts: PublishExtras,
  ): Promise<{ messageId: string; queueId: number; duplicate: boolean }> {
    return this.conn.request((out) => writePublish(out, this.conn.encoding, undefined, namespace, topic, payload, opts), decodePublishedEx);
  }

  /** One item per entry (partial); an atomic batch that fails rejects with the batch's error. */
  publishBatch(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): Promise<BatchPublishItem[]> {
    return this.feature('publish_batch', publishBatchData(namespace, topic, entries, mode), decodeBatch);
  }

  nack(
    namespace: string,
    topic: string,
    queueId: number,
    ids: readonly string[],
    opts: ClientNackOptions = {},
  ): Promise<{ requeued: number; delayed: number; deadLettered: number }> {
    return this.feature('nack', nackData(namespace, topic, queueId, ids, opts), decodeNack);
  }

  renewLease(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    return this.feature('renew_lease', renewData(namespace, topic, queueId, ids, extendMs), decodeNothing);
  }

  /** A page of pending messages of a queue, or of the dead-letter queue with `dlq` (queueId is then ignored). */
  peek(namespace: string, topic: string, queueId: number, opts: PeekOptions = {}): Promise<PeekPage> {
    return this.feature('peek', peekData(namespace, topic, queueId, opts), decodePeek);
  }

  /** Messages consumed from the dead-letter queue are in flight with queue id -1: ack, nack or renew them there. */
  consumeDlq(namespace: string, topic: string, opts: { batchSize?: number; autoAck?: boolean } = {}): Promise<ClientMessage[]> {
    return this.feature('consume_dlq', consumeDlqData(namespace, topic, opts.batchSize ?? 1, opts.autoAck ?? false), decodeMessages);
  }

  /** Moves up to `max` (default all) dead letters back to the topic; resolves to how many moved. */
  redriveDlq(namespace: string, topic: string, max?: number): Promise<number> {
    return this.feature('redrive_dlq', redriveData(namespace, topic, max), decodeRedrive);
  }

  pauseTopic(namespace: string, topic: string): Promise<void> {
    return this.feature('pause_topic', pauseData(namespace, topic, false), decodeNothing);
  }

  resumeTopic(namespace: string, topic: string): Promise<void> {
    return this.feature('resume_topic', pauseData(namespace, topic, true), decodeNothing);
  }

  purge(namespace: string, topic: string, opts: PurgeOptions = {}): Promise<number> {
    return this.feature('purge', purgeData(namespace, topic, opts), decodePurge);
  }

  setTopicPolicy(namespace: string, topic: string, policy: Partial<ClientTopicPolicy>): Promise<ClientTopicPolicy> {
    return this.feature('set_topic_policy', policyData(namespace, topic, policy), decodePolicy);
  }

  topicStats(namespace: string, topic: string): Promise<ClientTopicStats> {
    return this.feature('get_topic_stats', statsData(namespace, topic), decodeStats);
  }

  /**
   * Subscribes on a new connection. Resolves after the server's
   * "subscribed" reply; rejects with its error (e.g. NOT_FOUND).
   */
  async subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<TcpSubscription> {
    const conn = await FramedConnection.open(this.opts);
    const rid = 'sub';
    conn.pushId = rid;
    let ended = false;
    const end = (err: ClientError | undefined): void => {
      if (ended) return;
      ended = true;
      opts.onEnd?.(err);
    };
    conn.onPush = (reply) => {
      if (!reply.ok) {
        // The server ended the subscription (queue deleted, shutting down).
        end(replyError(reply));
        void conn.close();
        return;
      }
      const msg = decodePushed(reply);
      if (msg) opts.onMessage(msg);
    };
    try {
      await conn.request(
        (out) =>
          writeCommand(
            out,
            conn.encoding,
            'subscribe',
            rid,
            // max_inflight left out when not given: old brokers and the default behave as before.
            () =>
              `{"namespace":${q(namespace)},"topic":${q(topic)},"queue_id":${queueId},"auto_ack":${opts.autoAck}${
                opts.maxInflight === undefined ? '' : `,"max_inflight":${JSON.stringify(opts.maxInflight)}`
              }}`,
            // max_inflight is an optional uint32: its 0 is sent (keepZero), a non-negative varint as int32 writes it.
            () => new PbBuilder().string(1, namespace).string(2, topic).int32(3, queueId).bool(4, opts.autoAck).int32(5, opts.maxInflight, true).finish(),
          ),
        decodeNothing,
        rid,
      );
    } catch (err) {
      await conn.close();
      throw err;
    }
    const sub = new TcpSubscription(conn, namespace, topic, queueId);
    this.subscriptions.add(sub);
    conn.onClose = (err) => {
      this.subscriptions.delete(sub);
      end(err);
    };
    return sub;
  }

  /** Closes the connection and every subscription opened through this client. */
  async close(): Promise<void> {
    await Promise.all([this.conn.close(), ...[...this.subscriptions].map((s) => s.close())]);
  }
}
