/**
 * The unary RPCs of MQLiteService as a table: decode is done by the
 * service definition, each entry calls the broker and returns the response
 * fields (PROTOCOL.md, "gRPC"; the issue 8 extensions in README.md).
 * Validation lives in the core; the table only translates the wire's
 * "unset" conventions (0, empty string, absent optional) into the core's
 * `undefined`, and rejects enum values the proto does not define. Errors
 * thrown here are mapped once, in errors.ts.
 */
import type { BatchEntry, Broker, PeekOptions, PublishOptions, TopicPolicyInput } from '../../broker/broker.js';
import type { PeekRequest, PublishBatchEntry, PublishRequest } from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { Principal } from '../../auth/api-keys.js';
import type { Operation } from '../../auth/operations.js';
import type { MethodName, RequestOf, ResponseInit, UnaryMethodName } from '../../protocol/grpc-definition.js';
import { batchModeOf, peekOrderOf, wireMessage, wirePolicy, wireTopicStats } from './wire.js';

export type UnaryHandlers = {
  /** `principal`: who called (FULL_ACCESS with auth off); its scope is checked before the handler runs. */
  readonly [K in UnaryMethodName]: (req: RequestOf<K>, principal: Principal) => Promise<ResponseInit<K>>;
};

/** What the API key of each RPC must allow (issue 7, src/auth/operations.ts). */
export const GRPC_OPERATIONS: { readonly [K in MethodName]: Operation } = {
  createNamespace: 'create_namespace',
  deleteNamespace: 'delete_namespace',
  listNamespaces: 'list_namespaces',
  createTopic: 'create_topic',
  deleteTopic: 'delete_topic',
  listTopics: 'list_topics',
  resizeTopic: 'resize_topic',
  rebalanceTopic: 'rebalance_topic',
  publish: 'publish',
  consume: 'consume',
  subscribe: 'subscribe',
  ack: 'ack',
  publishBatch: 'publish_batch',
  nack: 'nack',
  renewLease: 'renew_lease',
  peek: 'peek',
  consumeDlq: 'consume_dlq',
  redriveDlq: 'redrive_dlq',
  setTopicPolicy: 'set_topic_policy',
  getTopicStats: 'get_topic_stats',
};

export function unaryHandlers(broker: Broker): UnaryHandlers {
  return {
    async createNamespace(req) {
      await broker.createNamespace(req.name);
      return { success: true, message: 'namespace created' };
    },
    async deleteNamespace(req) {
      await broker.deleteNamespace(req.name);
      return { success: true, message: 'namespace deleted' };
    },
    async listNamespaces(_req, principal) {
      // a key limited to namespaces sees only its own
      return { namespaces: principal.visible(broker.listNamespaces()) };
    },
    async createTopic(req) {
      await broker.createTopic(req.namespace, req.name, req.queueCount);
      return { success: true, message: 'topic created' };
    },
    async deleteTopic(req) {
      await broker.deleteTopic(req.namespace, req.name);
      return { success: true, message: 'topic deleted' };
    },
    async listTopics(req) {
      return {
        topics: broker.listTopics(req.namespace).map((t) => ({
          name: t.name,
          queueCount: t.queueCount,
          version: t.version,
          policy: wirePolicy(t.policy),
        })),
      };
    },
    async resizeTopic(req) {
      const r = await broker.resizeTopic(req.namespace, req.name, req.newQueueCount);
      return { success: true, message: 'topic resized', newQueueCount: r.newQueueCount, version: r.version, draining: r.draining };
    },
    async rebalanceTopic(req) {
      await broker.rebalanceTopic(req.namespace, req.name);
      return { success: true, message: 'topic rebalanced' };
    },
    async publish(req) {
      // PROTOCOL.md: `queue_id` absent (old clients leaving it 0) or -1 routes
      // automatically. The payload is a view into the frame: the core copies
      // it. An empty header map or routing key means none, to the core too.
      const r = await broker.publish(req.namespace, req.topic, req.payload, publishOptions(req));
      return { messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate === true };
    },
    async publishBatch(req) {
      const entries: BatchEntry[] = req.entries.map((e) => ({ payload: e.payload, ...publishOptions(e) }));
      const results = await broker.publishBatch(req.namespace, req.topic, entries, batchModeOf(req.mode));
      return {
        results: results.map((r) =>
          r.ok
            ? { ok: true, messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate === true }
            : { ok: false, errorCode: r.error.code, error: r.error.message },
        ),
      };
    },
    async consume(req) {
      const batch = await broker.consume(req.namespace, req.topic, req.queueId, req.batchSize, req.autoAck);
      return { messages: batch.map(wireMessage) };
    },
    async ack(req) {
      await broker.ack(req.namespace, req.topic, req.queueId, req.messageIds);
      return { success: true };
    },
    async nack(req) {
      const r = await broker.nack(req.namespace, req.topic, req.queueId, req.messageIds, { delayMs: optionalMs(req.delayMs) });
      return { success: true, requeued: r.requeued, delayed: r.delayed, deadLettered: r.deadLettered };
    },
    async renewLease(req) {
      await broker.renew(req.namespace, req.topic, req.queueId, req.messageIds, Number(req.extendMs));
      return { success: true };
    },
    async peek(req) {
      const opts = peekOptions(req);
      const r = req.dlq ? broker.peekDlq(req.namespace, req.topic, opts) : broker.peek(req.namespace, req.topic, req.queueId, opts);
      return {
        messages: r.messages.map((m) => ({ message: wireMessage(m), payloadSize: m.payloadSize })),
        nextCursor: r.nextCursor ?? '',
      };
    },
    async consumeDlq(req) {
      const batch = await broker.consumeDlq(req.namespace, req.topic, req.batchSize, req.autoAck);
      return { messages: batch.map(wireMessage) };
    },
    async redriveDlq(req) {
      const r = await broker.redriveDlq(req.namespace, req.topic, { max: req.max === 0 ? undefined : req.max });
      return { success: true, moved: r.moved };
    },
    async setTopicPolicy(req) {
      const policy = await broker.setTopicPolicy(req.namespace, req.topic, policyInput(req));
      return { success: true, policy: wirePolicy(policy) };
    },
    async getTopicStats(req) {
      return { stats: wireTopicStats(broker.topicStats(req.namespace, req.topic)) };
    },
  };
}

/**
 * int64 milliseconds to the core's number. A value past 2^53 loses
 * precision but stays far past every range the core accepts, so it is
 * still refused there, with the core's message.
 */
function optionalMs(ms: bigint | undefined): number | undefined {
  return ms === undefined ? undefined : Number(ms);
}

/** The extension fields of a publish: an empty `dedup_id` means none. */
function publishOptions(req: PublishRequest | PublishBatchEntry): PublishOptions {
  return {
    headers: req.headers,
    routingKey: req.routingKey,
    queueId: req.queueId,
    dedupId: req.dedupId === '' ? undefined : req.dedupId,
    delayMs: optionalMs(req.delayMs),
    deliverAt: optionalMs(req.deliverAtMs),
  };
}

/** `limit` 0 is the core's default (20); `preview_bytes` 0 and an empty cursor mean none. */
function peekOptions(req: PeekRequest): PeekOptions {
  return {
    cursor: req.cursor === '' ? undefined : req.cursor,
    limit: req.limit === 0 ? undefined : req.limit,
    order: peekOrderOf(req.order),
    previewBytes: req.previewBytes === 0 ? undefined : req.previewBytes,
  };
}

/** Absent fields keep their current value (the core merges what is given). */
function policyInput(req: RequestOf<'setTopicPolicy'>): TopicPolicyInput {
  const input: TopicPolicyInput = {};
  if (req.maxRetries !== undefined || req.retryBaseMs !== undefined || req.retryCapMs !== undefined) {
    input.retry = { maxRetries: req.maxRetries, baseMs: optionalMs(req.retryBaseMs), capMs: optionalMs(req.retryCapMs) };
  }
  if (req.dedupWindowMs !== undefined) input.dedupWindowMs = Number(req.dedupWindowMs);
  return input;
}
