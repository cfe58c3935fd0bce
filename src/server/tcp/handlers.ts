/**
 * The TCP front's command table: one entry per action of PROTOCOL.md,
 * shared by both encodings. Each entry calls the broker (`run`) and gives
 * the reply's `data` as JSON text (`json`) and as the protobuf message of
 * the matching `TCPResponse.data` case (`pb`; undefined: no data).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { BatchItemResult, Broker, PeekResult, TopicPolicy } from '../../broker/broker.js';
import {
  GetTopicStatsResponseSchema,
  NackResponseSchema,
  PeekResponseSchema,
  PublishBatchResponseSchema,
  RedriveDlqResponseSchema,
  SetTopicPolicyResponseSchema,
  TopicPolicySchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
// One conversion of the core's values per wire format, shared by the fronts:
// protobuf messages with gRPC, the JSON of policy, peek, nack and stats with HTTP.
import { wireMessage, wirePolicy, wireTopicStats } from '../grpc/wire.js';
import { nackResultJson, peekResultJson, policyJson, topicStatsJson } from '../http/queue-features.js';
import { messageJson } from '../json-payload.js';
import type { Principal } from '../../auth/api-keys.js';
import type { Operation } from '../../auth/operations.js';
import type { Action, CommandArgs, CommandResults } from './commands.js';
import { PbBuilder, encodeMessages } from '../../protocol/pb-builder.js';

export interface HandlerContext {
  readonly broker: Broker;
  /** Who sent the commands of this connection (FULL_ACCESS with auth off). */
  readonly principal: Principal;
  /** The `auth` command: sets the principal, or throws UNAUTHENTICATED. */
  authenticate(apiKey: string): void;
  /** Opens a push subscription on this connection; throws BrokerError (NOT_FOUND...). */
  subscribe(args: CommandArgs['subscribe']): void;
}

export interface ActionSpec<A extends Action> {
  /** What the API key must allow (src/auth/operations.ts); undefined for `auth` itself. */
  op: Operation | undefined;
  run(ctx: HandlerContext, args: CommandArgs[A]): Promise<CommandResults[A]> | CommandResults[A];
  json(result: CommandResults[A]): string;
  pb(result: CommandResults[A]): Uint8Array | undefined;
}

/** `{success: true, message}`: the reply of create/delete/rebalance (PROTOCOL.md, "gRPC"). */
function done(message: string): Uint8Array {
  return new PbBuilder(32).bool(1, true).string(2, message).finish();
}

const NS_CREATED = '"namespace created"';
const NS_DELETED = '"namespace deleted"';
const TOPIC_CREATED = '"topic created"';
const TOPIC_DELETED = '"topic deleted"';
const TOPIC_REBALANCED = '"topic rebalanced"';
const ACKED = '"messages acknowledged"';
const SUBSCRIBED = '"subscribed"';
const PB_NS_CREATED = done('namespace created');
const PB_NS_DELETED = done('namespace deleted');
const PB_TOPIC_CREATED = done('topic created');
const PB_TOPIC_DELETED = done('topic deleted');
const PB_TOPIC_REBALANCED = done('topic rebalanced');
const PB_ACKED = new PbBuilder(2).bool(1, true).finish();
const LEASES_RENEWED = '"leases renewed"';
const PB_RENEWED = PB_ACKED;
const AUTHENTICATED = '"authenticated"';
const PB_AUTHENTICATED = done('authenticated');

const policyPb = (p: TopicPolicy): Uint8Array => toBinary(TopicPolicySchema, create(TopicPolicySchema, wirePolicy(p)));

/**
 * `{"results":[...]}`, PublishBatchResponse's JSON: each item `{ok: true,
 * message_id, queue_id, duplicate}` or `{ok: false, error_code, error}`.
 */
function batchJson(results: BatchItemResult[]): string {
  const items = results.map((r) =>
    r.ok
      ? `{"ok":true,"message_id":${JSON.stringify(r.messageId)},"queue_id":${r.queueId},"duplicate":${r.duplicate === true}}`
      : `{"ok":false,"error_code":"${r.error.code}","error":${JSON.stringify(r.error.message)}}`,
  );
  return `{"results":[${items.join(',')}]}`;
}

function batchPb(results: BatchItemResult[]): Uint8Array {
  return toBinary(
    PublishBatchResponseSchema,
    create(PublishBatchResponseSchema, {
      results: results.map((r) =>
        r.ok
          ? { ok: true, messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate === true }
          : { ok: false, errorCode: r.error.code, error: r.error.message },
      ),
    }),
  );
}

function peekPb(r: PeekResult): Uint8Array {
  const messages = r.messages.map((m) => ({ message: wireMessage(m), payloadSize: m.payloadSize }));
  return toBinary(PeekResponseSchema, create(PeekResponseSchema, { messages, nextCursor: r.nextCursor ?? '' }));
}

export const handlers: { readonly [A in Action]: ActionSpec<A> } = {
  create_namespace: {
    op: 'create_namespace',
    run: (c, a) => c.broker.createNamespace(a.name),
    json: () => NS_CREATED,
    pb: () => PB_NS_CREATED,
  },
  delete_namespace: {
    op: 'delete_namespace',
    run: (c, a) => c.broker.deleteNamespace(a.name),
    json: () => NS_DELETED,
    pb: () => PB_NS_DELETED,
  },
  list_namespaces: {
    op: 'list_namespaces',
    // a key limited to namespaces sees only its own
    run: (c) => c.principal.visible(c.broker.listNamespaces()),
    json: (names) => JSON.stringify(names),
    pb: (names) => {
      const b = new PbBuilder();
      // repeated string: every element, even an empty one
      for (const n of names) b.message(1, Buffer.from(n, 'utf8'));
      return b.finish();
    },
  },
  create_topic: {
    op: 'create_topic',
    run: (c, a) => c.broker.createTopic(a.namespace, a.name, a.queueCount),
    json: () => TOPIC_CREATED,
    pb: () => PB_TOPIC_CREATED,
  },
  delete_topic: {
    op: 'delete_topic',
    run: (c, a) => c.broker.deleteTopic(a.namespace, a.name),
    json: () => TOPIC_DELETED,
    pb: () => PB_TOPIC_DELETED,
  },
  list_topics: {
    op: 'list_topics',
    run: (c, a) => c.broker.listTopics(a.namespace),
    json: (topics) =>
      `[${topics.map((t) => `{"name":${JSON.stringify(t.name)},"queue_count":${t.queueCount},"version":${t.version},"policy":${policyJson(t.policy)}}`).join(',')}]`,
    pb: (topics) => {
      const b = new PbBuilder();
      for (const t of topics) {
        b.message(1, new PbBuilder().string(1, t.name).int32(2, t.queueCount).uint64(3, t.version).message(4, policyPb(t.policy)).finish());
      }
      return b.finish();
    },
  },
  resize_topic: {
    op: 'resize_topic',
    run: (c, a) => c.broker.resizeTopic(a.namespace, a.name, a.newQueueCount),
    json: (r) => `{"new_queue_count":${r.newQueueCount},"version":${r.version},"draining":${r.draining}}`,
    pb: (r) =>
      new PbBuilder()
        .bool(1, true)
        .string(2, r.draining ? 'topic resize started: draining' : 'topic resized')
        .int32(3, r.newQueueCount)
        .uint64(4, r.version)
        .bool(5, r.draining)
        .finish(),
  },
  rebalance_topic: {
    op: 'rebalance_topic',
    run: (c, a) => c.broker.rebalanceTopic(a.namespace, a.name),
    json: () => TOPIC_REBALANCED,
    pb: () => PB_TOPIC_REBALANCED,
  },
  publish: {
    op: 'publish',
    run: (c, a) =>
      c.broker.publish(a.namespace, a.topic, a.payload, {
        headers: a.headers,
        routingKey: a.routingKey,
        queueId: a.queueId,
        dedupId: a.dedupId,
        delayMs: a.delayMs,
        deliverAt: a.deliverAt,
      }),
    // ids are UUIDs: nothing to escape. `duplicate` only when true: old clients see the reply they know.
    json: (r) => `{"message_id":"${r.messageId}","queue_id":${r.queueId}${r.duplicate ? ',"duplicate":true' : ''}}`,
    pb: (r) => new PbBuilder(48).string(1, r.messageId).int32(2, r.queueId).bool(3, r.duplicate === true).finish(),
  },
  consume: {
    op: 'consume',
    run: (c, a) => c.broker.consume(a.namespace, a.topic, a.queueId, a.batchSize, a.autoAck),
    json: (msgs) => `[${msgs.map(messageJson).join(',')}]`,
    pb: (msgs) => encodeMessages(msgs),
  },
  subscribe: {
    op: 'subscribe',
    run: (c, a) => c.subscribe(a),
    json: () => SUBSCRIBED,
    // PROTOCOL.md: "A protobuf subscribe is answered first by TCPResponse{status:"ok"} with no data"
    pb: () => undefined,
  },
  ack: {
    op: 'ack',
    run: (c, a) => c.broker.ack(a.namespace, a.topic, a.queueId, a.messageIds),
    json: () => ACKED,
    pb: () => PB_ACKED,
  },
  publish_batch: {
    op: 'publish_batch',
    run: (c, a) => c.broker.publishBatch(a.namespace, a.topic, a.entries, a.mode),
    json: batchJson,
    pb: batchPb,
  },
  nack: {
    op: 'nack',
    run: (c, a) => c.broker.nack(a.namespace, a.topic, a.queueId, a.messageIds, { delayMs: a.delayMs }),
    json: nackResultJson,
    pb: (r) => toBinary(NackResponseSchema, create(NackResponseSchema, { success: true, ...r })),
  },
  renew_lease: {
    op: 'renew_lease',
    run: (c, a) => c.broker.renew(a.namespace, a.topic, a.queueId, a.messageIds, a.extendMs),
    json: () => LEASES_RENEWED,
    pb: () => PB_RENEWED,
  },
  peek: {
    op: 'peek',
    run: (c, a) => (a.dlq ? c.broker.peekDlq(a.namespace, a.topic, a.options) : c.broker.peek(a.namespace, a.topic, a.queueId, a.options)),
    json: peekResultJson,
    pb: peekPb,
  },
  consume_dlq: {
    op: 'consume_dlq',
    run: (c, a) => c.broker.consumeDlq(a.namespace, a.topic, a.batchSize, a.autoAck),
    json: (msgs) => `[${msgs.map(messageJson).join(',')}]`,
    pb: (msgs) => encodeMessages(msgs),
  },
  redrive_dlq: {
    op: 'redrive_dlq',
    run: (c, a) => c.broker.redriveDlq(a.namespace, a.topic, { max: a.max }),
    json: (r) => `{"moved":${r.moved}}`,
    pb: (r) => toBinary(RedriveDlqResponseSchema, create(RedriveDlqResponseSchema, { success: true, moved: r.moved })),
  },
  set_topic_policy: {
    op: 'set_topic_policy',
    run: (c, a) => c.broker.setTopicPolicy(a.namespace, a.topic, a.policy),
    json: policyJson,
    pb: (p) => toBinary(SetTopicPolicyResponseSchema, create(SetTopicPolicyResponseSchema, { success: true, policy: wirePolicy(p) })),
  },
  get_topic_stats: {
    op: 'get_topic_stats',
    run: (c, a) => c.broker.topicStats(a.namespace, a.topic),
    json: topicStatsJson,
    pb: (st) => toBinary(GetTopicStatsResponseSchema, create(GetTopicStatsResponseSchema, { stats: wireTopicStats(st) })),
  },
  auth: {
    op: undefined,
    run: (c, a) => c.authenticate(a.apiKey),
    json: () => AUTHENTICATED,
    pb: () => PB_AUTHENTICATED,
  },
};
