/**
 * A small typed client of the HTTP REST + SSE front (docs/PROTOCOL.md "HTTP (REST + SSE)"),
 * over keep-alive connections (node:http by default, or fetch: see
 * transport.ts). Used by the CLI, the benchmark and the tests.
 */
import type {
  BatchPublishEntry,
  BatchPublishItem,
  ClientMessage,
  ClientSubscription,
  ClientTlsOptions,
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
import { ClientError } from '../types.js';
import { decodeBatchItem, decodeMessage, decodePolicy, decodeTopicStats, encodePolicy, payloadJsonText, type WireBatchItem, type WireMessage, type WirePolicy, type WireTopicStats } from '../json-message.js';
import { SseParser } from './sse-parser.js';
import { FetchTransport, NodeHttpTransport, RawHttpTransport, type Transport } from './transport.js';

export { SseParser } from './sse-parser.js';
export { decodeMessage, payloadJsonText } from '../json-message.js';

export interface HttpClientOptions {
  /** e.g. `http://127.0.0.1:8080` */
  baseUrl: string;
  /** Per-request time limit (not applied to SSE streams); default 30 s. */
  timeoutMs?: number;
  /**
   * `http` (node:http keep-alive Agent, the default), `fetch`, or `raw` (a
   * lean keep-alive HTTP/1.1 client for load generation): see transport.ts.
   */
  transport?: 'http' | 'fetch' | 'raw';
  /** Sent as `X-API-Key` on every request and SSE stream (docs/PROTOCOL.md, "Authentication"). */
  apiKey?: string;
  /** Speak HTTPS (the broker has `server.tls` set): an `http://` base URL becomes `https://`. */
  tls?: ClientTlsOptions;
}

/** The options of every client's subscribe (`maxInflight` is in SubscribeOptions now); kept for code that names it. */
export type HttpSubscribeOptions = SubscribeOptions;

/** One message as the JSON surfaces show it (docs/PROTOCOL.md "JSON surfaces"). */

interface Envelope {
  success: boolean;
  message?: string;
  data?: unknown;
}

/** The broker's error code behind an HTTP status (the envelope carries only a reason). */
function codeOfStatus(status: number, message: string): string {
  switch (status) {
    case 400:
    case 413:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return /already exists/i.test(message) ? 'ALREADY_EXISTS' : 'FAILED_PRECONDITION';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'INTERNAL' : `HTTP_${status}`;
  }
}

const seg = encodeURIComponent;

export class HttpClient implements MqliteClient, QueueFeaturesClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly transport: Transport;
  private readonly streams = new Set<() => void>();

  constructor(opts: HttpClientOptions) {
    const base = opts.baseUrl.replace(/\/+$/, '');
    this.base = opts.tls ? base.replace(/^http:/, 'https:') : base;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (opts.apiKey !== undefined && /[\r\n]/.test(opts.apiKey)) throw new ClientError('INVALID_ARGUMENT', 'an API key cannot contain a line break');
    const extra: Record<string, string> = opts.apiKey !== undefined ? { 'x-api-key': opts.apiKey } : {};
    this.transport =
      opts.transport === 'fetch'
        ? new FetchTransport(extra, opts.tls)
        : opts.transport === 'raw'
          ? new RawHttpTransport(this.base, extra, opts.tls)
          : new NodeHttpTransport(this.base, extra, opts.tls);
  }

  /** `GET /health`. */
  async health(): Promise<{ status: string }> {
    const res = await this.send('GET', '/health');
    let body: { status?: unknown };
    try {
      body = JSON.parse(res.text) as { status?: unknown };
    } catch {
      throw new ClientError('TRANSPORT', `health: not JSON (HTTP ${res.status}): ${res.text.slice(0, 200)}`);
    }
    if (res.status !== 200) throw new ClientError(codeOfStatus(res.status, ''), `health: HTTP ${res.status} ${JSON.stringify(body)}`);
    return { status: String(body.status) };
  }

  async createNamespace(name: string): Promise<void> {
    await this.call('POST', '/v1/namespaces', JSON.stringify({ name }));
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.call('DELETE', `/v1/namespaces/${seg(name)}`);
  }

  async listNamespaces(): Promise<string[]> {
    return (await this.call('GET', '/v1/namespaces')) as string[];
  }

  async createTopic(namespace: string, name: string, queueCount: number): Promise<void> {
    await this.call('POST', `/v1/namespaces/${seg(namespace)}/topics`, JSON.stringify({ name, queue_count: queueCount }));
  }

  async deleteTopic(namespace: string, name: string): Promise<void> {
    await this.call('DELETE', this.topicPath(namespace, name));
  }

  async listTopics(namespace: string): Promise<TopicSummary[]> {
    const data = (await this.call('GET', `/v1/namespaces/${seg(namespace)}/topics`)) as { name: string; queue_count: number; version: number; paused?: boolean }[];
    return data.map((t) => ({ name: t.name, queueCount: t.queue_count, version: BigInt(t.version), paused: t.paused === true }));
  }

  async resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary> {
    const d = (await this.call('PUT', `${this.topicPath(namespace, name)}/resize`, JSON.stringify({ new_queue_count: newQueueCount }))) as {
      new_queue_count: number;
      version: number;
      draining: boolean;
    };
    return { newQueueCount: d.new_queue_count, version: BigInt(d.version), draining: d.draining };
  }

  async rebalanceTopic(namespace: string, name: string): Promise<void> {
    await this.call('POST', `${this.topicPath(namespace, name)}/rebalance`);
  }

  async publish(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts: PublishOptions = {},
  ): Promise<{ messageId: string; queueId: number }> {
    const d = (await this.call('POST', `${this.topicPath(namespace, topic)}/publish`, publishBody(payload, opts))) as WirePublished;
    return { messageId: d.message_id, queueId: d.queue_id };
  }

  // ---- the extensions (QueueFeaturesClient) ----

  /** Publish with dedup_id, delay_ms or deliver_at_ms; `duplicate` when the dedup window answered it. */
  async publishEx(
    namespace: string,
    topic: string,
    payload: Uint8Array | string,
    opts: PublishExtras,
  ): Promise<{ messageId: string; queueId: number; duplicate: boolean }> {
    const d = (await this.call('POST', `${this.topicPath(namespace, topic)}/publish`, publishBody(payload, opts))) as WirePublished;
    return { messageId: d.message_id, queueId: d.queue_id, duplicate: d.duplicate === true };
  }

  /** One item per entry (partial); an atomic batch that fails rejects with the batch's error. */
  async publishBatch(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): Promise<BatchPublishItem[]> {
    const body = `{"mode":${JSON.stringify(mode)},"entries":[${entries.map((e) => publishBody(e.payload, e)).join(',')}]}`;
    const items = (await this.call('POST', `${this.topicPath(namespace, topic)}/publish-batch`, body)) as WireBatchItem[];
    return items.map(decodeBatchItem);
  }

  async nack(
    namespace: string,
    topic: string,
    queueId: number,
    ids: readonly string[],
    opts: ClientNackOptions = {},
  ): Promise<{ requeued: number; delayed: number; deadLettered: number }> {
    const body = JSON.stringify({ message_ids: ids, delay_ms: opts.delayMs, dead_letter: opts.deadLetter === true ? true : undefined });
    const d = (await this.call('POST', `${this.queuePath(namespace, topic, queueId)}/nack`, body)) as { requeued: number; delayed: number; dead_lettered: number };
    return { requeued: d.requeued, delayed: d.delayed, deadLettered: d.dead_lettered };
  }

  async renewLease(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    await this.call('POST', `${this.queuePath(namespace, topic, queueId)}/renew`, JSON.stringify({ message_ids: ids, extend_ms: extendMs }));
  }

  /** A page of pending messages of a queue, or of the dead-letter queue with `dlq` (queueId is then ignored). */
  async peek(
    namespace: string,
    topic: string,
    queueId: number,
    opts: { cursor?: string; limit?: number; order?: 'asc' | 'desc'; previewBytes?: number; dlq?: boolean } = {},
  ): Promise<PeekPage> {
    const q = new URLSearchParams();
    if (opts.cursor !== undefined) q.set('cursor', opts.cursor);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.order !== undefined) q.set('order', opts.order);
    if (opts.previewBytes !== undefined) q.set('preview_bytes', String(opts.previewBytes));
    const query = q.size > 0 ? `?${q.toString()}` : '';
    const path = opts.dlq === true ? `${this.topicPath(namespace, topic)}/dlq` : `${this.queuePath(namespace, topic, queueId)}/peek`;
    const d = (await this.call('GET', path + query)) as { messages: (WireMessage & { payload_size: number })[]; next_cursor: string | null };
    const page: PeekPage = { messages: d.messages.map((m) => ({ ...decodeMessage(m), payloadSize: m.payload_size })) };
    if (d.next_cursor !== null && d.next_cursor !== undefined) page.nextCursor = d.next_cursor;
    return page;
  }

  /** Messages consumed from the dead-letter queue are in flight with queue id -1: ack, nack or renew them there. */
  async consumeDlq(namespace: string, topic: string, opts: { batchSize?: number; autoAck?: boolean } = {}): Promise<ClientMessage[]> {
    const body = JSON.stringify({ batch_size: opts.batchSize ?? 1, auto_ack: opts.autoAck ?? false });
    const data = (await this.call('POST', `${this.topicPath(namespace, topic)}/dlq/consume`, body)) as WireMessage[];
    return data.map(decodeMessage);
  }

  /** Moves up to `max` (default all) dead letters back to the topic; returns how many moved. */
  async redriveDlq(namespace: string, topic: string, max?: number): Promise<number> {
    const d = (await this.call('POST', `${this.topicPath(namespace, topic)}/dlq/redrive`, JSON.stringify({ max }))) as { moved: number };
    return d.moved;
  }

  async pauseTopic(namespace: string, topic: string): Promise<void> {
    await this.call('POST', `${this.topicPath(namespace, topic)}/pause`);
  }

  async resumeTopic(namespace: string, topic: string): Promise<void> {
    await this.call('POST', `${this.topicPath(namespace, topic)}/resume`);
  }

  async purge(namespace: string, topic: string, opts: PurgeOptions = {}): Promise<number> {
    const body = JSON.stringify({ queue_id: opts.queueId, dlq: opts.dlq });
    return ((await this.call('POST', `${this.topicPath(namespace, topic)}/purge`, body)) as { purged: number }).purged;
  }

  async setTopicPolicy(namespace: string, topic: string, policy: Partial<ClientTopicPolicy>): Promise<ClientTopicPolicy> {
    const body = JSON.stringify(encodePolicy(policy));
    return decodePolicy((await this.call('PUT', `${this.topicPath(namespace, topic)}/policy`, body)) as WirePolicy);
  }

  async topicStats(namespace: string, topic: string): Promise<ClientTopicStats> {
    return decodeTopicStats((await this.call('GET', `${this.topicPath(namespace, topic)}/stats`)) as WireTopicStats);
  }

  async consume(
    namespace: string,
    topic: string,
    queueId: number,
    opts: { batchSize?: number; autoAck?: boolean } = {},
  ): Promise<ClientMessage[]> {
    const body = JSON.stringify({ batch_size: opts.batchSize ?? 1, auto_ack: opts.autoAck ?? false });
    const data = (await this.call('POST', `${this.queuePath(namespace, topic, queueId)}/consume`, body)) as WireMessage[];
    return data.map(decodeMessage);
  }

  async ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void> {
    await this.call('POST', `${this.queuePath(namespace, topic, queueId)}/ack`, JSON.stringify({ message_ids: ids }));
  }

  /**
   * Opens an SSE stream; resolves once the server has accepted it (an
   * unknown topic or queue rejects with NOT_FOUND). Messages arrive through
   * `onMessage`, resize notices included (id `_resize_<version>`).
   */
  async subscribe(namespace: string, topic: string, queueId: number, opts: HttpSubscribeOptions): Promise<ClientSubscription> {
    let query = `auto_ack=${opts.autoAck ? 'true' : 'false'}`;
    if (opts.maxInflight !== undefined) query += `&max_inflight=${opts.maxInflight}`;
    const url = `${this.base}${this.queuePath(namespace, topic, queueId)}/subscribe?${query}`;
    let res: Awaited<ReturnType<Transport['stream']>>;
    try {
      res = await this.transport.stream(url, { accept: 'text/event-stream' });
    } catch (err) {
      throw new ClientError('TRANSPORT', `subscribe ${url}: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      let text = '';
      try {
        for await (const chunk of res.body) text += Buffer.from(chunk).toString('utf8');
      } catch {
        // The reason is what matters; a cut body leaves it empty.
      }
      throw failure(res.status, text);
    }
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      res.cancel();
    };
    this.streams.add(cancel);
    let ended = false;
    const endOnce = (err: ClientError | undefined): void => {
      if (ended) return;
      ended = true;
      this.streams.delete(cancel);
      opts.onEnd?.(err);
    };
    let serverEnd: ClientError | undefined;
    const parser = new SseParser((event, data) => {
      if (event === 'message') {
        // Also after close(): the broker counts it in flight, and the
        // subscriber may give it back rather than wait for its ack deadline.
        opts.onMessage(decodeMessage(JSON.parse(data) as WireMessage));
      } else if (event === 'end') {
        const reason = (JSON.parse(data) as Envelope).message ?? 'subscription ended';
        serverEnd = new ClientError(/shutting down/i.test(reason) ? 'UNAVAILABLE' : 'NOT_FOUND', reason);
      }
    });
    const pump = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body) parser.push(decoder.decode(chunk, { stream: true }));
        endOnce(cancelled ? undefined : (serverEnd ?? new ClientError('UNAVAILABLE', 'the server ended the stream')));
      } catch (err) {
        endOnce(cancelled ? undefined : new ClientError('TRANSPORT', `subscription stream failed: ${(err as Error).message}`));
      }
    })();
    return {
      close: async (): Promise<void> => {
        if (!ended) cancel();
        // Resolves once the connection is dropped, which is how the server
        // learns that the subscription is over.
        await pump;
      },
    };
  }

  /** Ends open SSE streams and releases keep-alive connections. */
  async close(): Promise<void> {
    for (const cancel of [...this.streams]) cancel();
    this.streams.clear();
    this.transport.close();
  }

  // ---- plumbing ----

  private topicPath(namespace: string, topic: string): string {
    return `/v1/namespaces/${seg(namespace)}/topics/${seg(topic)}`;
  }

  private queuePath(namespace: string, topic: string, queueId: number): string {
    return `${this.topicPath(namespace, topic)}/queues/${queueId}`;
  }

  private async send(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
    try {
      return await this.transport.request(method, this.base + path, body, this.timeoutMs);
    } catch (err) {
      throw new ClientError('TRANSPORT', `${method} ${path}: ${(err as Error).message}`);
    }
  }

  /** One request; returns the envelope's `data`, or throws the reason as a ClientError. */
  private async call(method: string, path: string, body?: string): Promise<unknown> {
    const res = await this.send(method, path, body);
    if (res.status < 200 || res.status > 299) throw failure(res.status, res.text);
    let env: Envelope;
    try {
      env = JSON.parse(res.text) as Envelope;
    } catch {
      throw new ClientError('TRANSPORT', `${method} ${path}: reply is not JSON: ${res.text.slice(0, 200)}`);
    }
    if (!env.success) throw new ClientError('INTERNAL', env.message ?? `${method} ${path} failed`);
    return env.data;
  }
}

interface WirePublished {
  message_id: string;
  queue_id: number;
  duplicate?: boolean;
}

/**
 * The JSON of a publish (and of a batch entry). Built as text so that a
 * JSON payload is sent as it is, not parsed and serialised again.
 */
function publishBody(payload: Uint8Array | string, opts: PublishExtras): string {
  let body = `{"payload":${payloadJsonText(payload)}`;
  if (opts.headers !== undefined) body += `,"headers":${JSON.stringify(opts.headers)}`;
  if (opts.routingKey !== undefined) body += `,"routing_key":${JSON.stringify(opts.routingKey)}`;
  if (opts.queueId !== undefined) body += `,"queue_id":${Number(opts.queueId)}`;
  if (opts.dedupId !== undefined) body += `,"dedup_id":${JSON.stringify(opts.dedupId)}`;
  if (opts.delayMs !== undefined) body += `,"delay_ms":${Number(opts.delayMs)}`;
  if (opts.deliverAtMs !== undefined) body += `,"deliver_at_ms":${Number(opts.deliverAtMs)}`;
  if (opts.ttlMs !== undefined) body += `,"ttl_ms":${Number(opts.ttlMs)}`;
  return `${body}}`;
}

/** The ClientError for a failed reply: the envelope's reason, the code from the status. */
function failure(status: number, text: string): ClientError {
  let message = `HTTP ${status}`;
  try {
    const env = JSON.parse(text) as Envelope;
    if (typeof env.message === 'string') message = env.message;
  } catch {
    if (text !== '') message += `: ${text.slice(0, 200)}`;
  }
  return new ClientError(codeOfStatus(status, message), message);
}
